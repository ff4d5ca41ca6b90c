//! resdeg: the CIFAR-10 degradation study of He et al. (2015), plain against residual nets.

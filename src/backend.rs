//! How libtorch runs: the settings that change speed, not the science. Threads, memory format,
//! cuDNN autotuning, TF32 and the C allocator's reuse of large blocks. The defaults are the
//! choices measured fastest by `scripts/bench` (numbers in BENCHMARKS.md).

use crate::config::Config;
use tch::Device;

/// Calls into libtorch's global context for the switches that tch does not wrap. The symbols are
/// the C++ (Itanium ABI) names of non-virtual member functions, which take `this` first.
mod context {
    use std::ffi::c_void;
    unsafe extern "C" {
        #[link_name = "_ZN2at13globalContextEv"]
        pub fn global() -> *mut c_void;
        #[link_name = "_ZN2at7Context17setAllowTF32CuDNNEb"]
        pub fn set_allow_tf32_cudnn(ctx: *mut c_void, allow: bool);
        #[link_name = "_ZN2at7Context20setUserEnabledMkldnnEb"]
        pub fn set_user_enabled_mkldnn(ctx: *mut c_void, enabled: bool);
    }
}

/// Lets (or forbids) cuDNN convolutions compute in TF32. libtorch allows it by default; the
/// paper's fp32 needs it off.
pub fn set_tf32(allow: bool) {
    // SAFETY: globalContext() returns libtorch's process-wide context, alive for the process.
    unsafe { context::set_allow_tf32_cudnn(context::global(), allow) }
}

/// Turns oneDNN (mkldnn) kernels on or off for CPU ops; on by default. Only for measuring.
pub fn set_onednn(enabled: bool) {
    // SAFETY: as in `set_tf32`.
    unsafe { context::set_user_enabled_mkldnn(context::global(), enabled) }
}

/// Keeps freed large blocks in the C allocator instead of returning them to the kernel, so that
/// the same activation buffers are reused every step rather than mapped and page-faulted anew.
pub fn set_malloc_reuse(on: bool) {
    // glibc hands blocks above M_MMAP_THRESHOLD (128 KiB by default, adaptive up to 32 MiB) to
    // mmap and trims the heap top above M_TRIM_THRESHOLD; both get large limits.
    const M_TRIM_THRESHOLD: i32 = -1;
    const M_MMAP_THRESHOLD: i32 = -3;
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    if on {
        // SAFETY: mallopt only changes allocator parameters.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 1 << 30);
            mallopt(M_TRIM_THRESHOLD, i32::MAX);
        }
    }
}

/// Whether nets on `device` are laid out channels-last: the config's choice, else the measured
/// default (yes on the CPU; no on a GPU, where it is unmeasured so far).
pub fn channels_last(cfg: &Config, device: Device) -> bool {
    cfg.channels_last.unwrap_or(device == Device::Cpu)
}

/// Applies the config's settings before any training: threads, TF32 and cuDNN autotuning (the
/// input shape never changes, so the first step's search pays for itself).
pub fn apply(cfg: &Config, device: Device) {
    if let Some(t) = cfg.threads {
        tch::set_num_threads(t as i32);
    }
    if device.is_cuda() {
        set_tf32(cfg.tf32);
        tch::Cuda::cudnn_set_benchmark(true);
    }
}

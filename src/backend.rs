//! How libtorch runs: the settings that change speed, not the science. Threads, memory format,
//! cuDNN autotuning, TF32, bfloat16 autocast and the C allocator's reuse of large blocks. The
//! defaults are the choices measured fastest by `scripts/bench` (numbers in BENCHMARKS.md).

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
        /// `float32Precision(Float32Backend, Float32Op) const`; the enums are ints.
        #[link_name = "_ZNK2at7Context16float32PrecisionENS_14Float32BackendENS_9Float32OpE"]
        pub fn float32_precision(ctx: *mut c_void, backend: i32, op: i32) -> i32;
    }
}

/// libtorch's autocast, the C++ behind `torch.autocast`: tch wraps only CUDA's legacy switch, not
/// the per-device-type one that the CPU needs. `c10::DeviceType` and `c10::ScalarType` are int8
/// enums. The state is per thread, as in PyTorch.
mod autocast {
    unsafe extern "C" {
        #[link_name = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb"]
        pub fn set_enabled(device_type: i8, enabled: bool);
        #[link_name = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE"]
        pub fn is_enabled(device_type: i8) -> bool;
        #[link_name = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE"]
        pub fn set_dtype(device_type: i8, dtype: i8);
        #[link_name = "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE"]
        pub fn dtype(device_type: i8) -> i8;
        #[link_name = "_ZN2at8autocast17increment_nestingEv"]
        pub fn increment_nesting() -> i32;
        #[link_name = "_ZN2at8autocast17decrement_nestingEv"]
        pub fn decrement_nesting() -> i32;
        #[link_name = "_ZN2at8autocast11clear_cacheEv"]
        pub fn clear_cache();
    }
    pub const CPU: i8 = 0;
    pub const CUDA: i8 = 1;
    pub const BFLOAT16: i8 = 15;
}

/// While alive, this thread runs what it computes on the guard's device as
/// `with torch.autocast(device, torch.bfloat16):` does: convolutions and linear layers in
/// bfloat16, losses in fp32, other ops in their inputs' precision. Weights stay fp32; their bf16
/// copies are cached for the guard's life and dropped with it, so one guard must not outlive a
/// forward pass across an optimizer step.
pub struct Bf16Autocast {
    device_type: i8,
    was_enabled: bool,
    was_dtype: i8,
}

impl Bf16Autocast {
    pub fn new(device: Device) -> Bf16Autocast {
        let device_type = if device.is_cuda() { autocast::CUDA } else { autocast::CPU };
        // SAFETY: thread-local flags of libtorch's autocast, set and restored as torch.autocast
        // does on entering and leaving.
        unsafe {
            let guard = Bf16Autocast {
                device_type,
                was_enabled: autocast::is_enabled(device_type),
                was_dtype: autocast::dtype(device_type),
            };
            autocast::set_dtype(device_type, autocast::BFLOAT16);
            autocast::set_enabled(device_type, true);
            autocast::increment_nesting();
            guard
        }
    }
}

impl Drop for Bf16Autocast {
    fn drop(&mut self) {
        // SAFETY: as in `new`.
        unsafe {
            if autocast::decrement_nesting() == 0 {
                autocast::clear_cache();
            }
            autocast::set_enabled(self.device_type, self.was_enabled);
            autocast::set_dtype(self.device_type, self.was_dtype);
        }
    }
}

/// Lets (or forbids) cuDNN convolutions compute in TF32. libtorch allows it by default; the
/// paper's fp32 needs it off.
pub fn set_tf32(allow: bool) {
    // SAFETY: globalContext() returns libtorch's process-wide context, alive for the process.
    unsafe { context::set_allow_tf32_cudnn(context::global(), allow) }
}

/// Whether cuDNN convolutions may use TF32 now (libtorch's `Float32Precision` for CUDA convs).
pub fn tf32() -> bool {
    const CUDA: i32 = 1; // Float32Backend::CUDA
    const CONV: i32 = 1; // Float32Op::CONV
    const TF32: i32 = 2; // Float32Precision::TF32
    // SAFETY: as in `set_tf32`; a const query.
    unsafe { context::float32_precision(context::global(), CUDA, CONV) == TF32 }
}

/// Turns oneDNN (mkldnn) kernels on or off for CPU ops; on by default. Only for measuring.
pub fn set_onednn(enabled: bool) {
    // SAFETY: as in `set_tf32`.
    unsafe { context::set_user_enabled_mkldnn(context::global(), enabled) }
}

/// Keeps freed large blocks in the C allocator instead of returning them to the kernel, so that
/// every step reuses the same activation buffers rather than mapping and page-faulting them anew.
/// Measured on the 2-core CPU machine (`scripts/bench-settings`): ResNet-20 training +17%,
/// evaluation +79%. Costs nothing but holding on to the peak memory, which training needs anyway.
pub fn keep_freed_memory() {
    // glibc hands blocks above M_MMAP_THRESHOLD (128 KiB at first) to mmap, and returns the heap
    // top to the kernel above M_TRIM_THRESHOLD: both get limits no activation reaches.
    const M_TRIM_THRESHOLD: i32 = -1;
    const M_MMAP_THRESHOLD: i32 = -3;
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: mallopt only changes allocator parameters.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 1 << 30);
        mallopt(M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// Whether nets on `device` are laid out channels-last: the config's choice, else the measured
/// default: yes on the CPU (ResNet-20 training +27%, evaluation +29%, `scripts/bench-settings`);
/// no on a GPU, where it is not measured yet.
pub fn channels_last(cfg: &Config, device: Device) -> bool {
    cfg.channels_last.unwrap_or(device == Device::Cpu)
}

/// Applies the config's settings before any training: threads (the config's, else
/// [`allocated_threads`]: libtorch's one per physical core, measured fastest, within the
/// process's allocation), TF32 and cuDNN autotuning (the input shape never changes,
/// so the first step's search pays for itself), and [`keep_freed_memory`].
pub fn apply(cfg: &Config, device: Device) {
    apply_without_allocator(cfg, device);
    keep_freed_memory();
}

/// The threads to use when the config names none: libtorch's own default (one per physical core),
/// capped by the CPUs this process may run on (its affinity mask: `taskset`, Slurm's
/// task/affinity, a cgroup) and by what Slurm allocated (`SLURM_CPUS_PER_TASK`, which also holds
/// where Slurm binds nothing, e.g. `TaskPlugin=task/none`).
pub fn allocated_threads(
    libtorch_default: usize,
    usable_cpus: usize,
    slurm_cpus_per_task: Option<&str>,
) -> usize {
    let slurm = slurm_cpus_per_task.and_then(|s| s.trim().parse::<usize>().ok()).filter(|&n| n > 0);
    libtorch_default.min(usable_cpus).min(slurm.unwrap_or(usize::MAX)).max(1)
}

/// [`apply`] but for the allocator, which stays at glibc's defaults (to measure what it brings).
pub fn apply_without_allocator(cfg: &Config, device: Device) {
    let usable = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slurm = std::env::var("SLURM_CPUS_PER_TASK").ok();
    let threads = cfg.threads.unwrap_or_else(|| {
        allocated_threads(tch::get_num_threads().max(1) as usize, usable, slurm.as_deref())
    });
    tch::set_num_threads(threads as i32);
    if device.is_cuda() {
        set_tf32(cfg.tf32);
        tch::Cuda::cudnn_set_benchmark(true);
    }
}

#[cfg(test)]
mod tests {
    use super::allocated_threads;

    #[test]
    fn threads_stay_within_the_allocation() {
        assert_eq!(allocated_threads(64, 64, None), 64);
        assert_eq!(allocated_threads(32, 64, None), 32); // physical cores of a hyperthreaded node
        assert_eq!(allocated_threads(64, 4, None), 4); // taskset -c 0-3
        assert_eq!(allocated_threads(64, 64, Some("8")), 8); // --cpus-per-task 8, nothing bound
        assert_eq!(allocated_threads(64, 2, Some("8")), 2);
        assert_eq!(allocated_threads(64, 64, Some("")), 64);
        assert_eq!(allocated_threads(0, 0, Some("0")), 1);
    }

    /// Inside the guard a convolution computes in bf16 and the loss in fp32, outside in fp32; a
    /// weight changed between two guards is seen by the second (the cast cache is dropped).
    #[test]
    fn bf16_autocast_casts_convolutions_and_forgets_its_casts() {
        use tch::{Device, Kind, Reduction, Tensor, nn, nn::Module};
        let vs = nn::VarStore::new(Device::Cpu);
        let conv = nn::conv2d(vs.root(), 3, 4, 3, Default::default());
        let xs = Tensor::randn([2, 3, 8, 8], (Kind::Float, Device::Cpu));
        let before = {
            let _bf16 = super::Bf16Autocast::new(Device::Cpu);
            let ys = conv.forward(&xs);
            assert_eq!(ys.kind(), Kind::BFloat16);
            let loss = ys.flatten(1, -1).cross_entropy_loss::<Tensor>(
                &Tensor::zeros([2], (Kind::Int64, Device::Cpu)),
                None,
                Reduction::Mean,
                -100,
                0.0,
            );
            assert_eq!(loss.kind(), Kind::Float);
            ys
        };
        assert_eq!(conv.forward(&xs).kind(), Kind::Float);
        let _ = tch::no_grad(|| conv.ws.shallow_clone().fill_(0.5));
        let after = {
            let _bf16 = super::Bf16Autocast::new(Device::Cpu);
            conv.forward(&xs)
        };
        let want = conv.forward(&xs);
        assert!(!after.allclose(&before, 1e-2, 1e-2, false));
        assert!(after.to_kind(Kind::Float).allclose(&want, 5e-2, 5e-2, false));
    }

    /// The calls into libtorch's context reach it (no GPU needed: it is a flag in the context).
    #[test]
    fn tf32_is_off_once_set_off() {
        super::set_tf32(true);
        assert!(super::tf32());
        super::set_tf32(false);
        assert!(!super::tf32());
    }
}

// The few things Swift cannot import or should not call through the Swift runtime:
// variadic C functions, function-like macros, and the real-time calls that the host loop makes
// with no allocation. Every function returns 0 or a positive errno-style code; none sets errno
// for the caller to read later.
#ifndef QR_PLATFORM_SHIMS_H
#define QR_PLATFORM_SHIMS_H

#include <stdint.h>
#include <libusb.h>

/// libusb_set_option(ctx, LIBUSB_OPTION_LOG_LEVEL, level).
/// Exists because libusb_set_option is variadic and Swift cannot call variadic C functions.
/// Returns a libusb_error code (0 on success).
int qr_libusb_set_log_level(libusb_context *ctx, int level);

/// libusb_set_option(ctx, option) for the options that take no argument
/// (LIBUSB_OPTION_USE_USBDK, LIBUSB_OPTION_NO_DEVICE_DISCOVERY).
/// Exists because libusb_set_option is variadic. Returns a libusb_error code.
int qr_libusb_set_option_flag(libusb_context *ctx, int option);

/// Pins the calling thread to one CPU with pthread_setaffinity_np.
/// Exists because CPU_ZERO and CPU_SET are function-like macros, which Swift does not import.
/// Returns 0 or the errno value (EINVAL for a CPU outside the set).
int qr_pin_current_thread_to_cpu(int cpu);

/// Gives the calling thread SCHED_FIFO at `priority` with sched_setscheduler(0, ...).
/// Exists so the real-time set-up is one C call with a stack-allocated sched_param.
/// Returns 0 or errno (EPERM without CAP_SYS_NICE or an RLIMIT_RTPRIO allowance).
int qr_set_fifo_priority(int priority);

/// Reports the calling thread's scheduling policy (SCHED_OTHER 0, SCHED_FIFO 1, SCHED_RR 2)
/// and priority through sched_getscheduler/sched_getparam. Returns 0 or errno.
int qr_current_scheduling(int *policy, int *priority);

/// Locks current and future pages in RAM: mlockall(MCL_CURRENT | MCL_FUTURE).
/// Exists because the MCL_ flags are macros whose values differ between architectures.
/// Returns 0 or errno (EPERM or ENOMEM without CAP_IPC_LOCK or a large RLIMIT_MEMLOCK).
int qr_lock_all_memory(void);

/// Undoes qr_lock_all_memory with munlockall(). Returns 0 or errno.
int qr_unlock_all_memory(void);

/// Sleeps until an absolute CLOCK_MONOTONIC deadline, in nanoseconds, with
/// clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ...), resuming after signals (EINTR).
/// Exists so the host loop's sleep is one allocation-free C call that returns the error number
/// itself (clock_nanosleep does not use errno). A deadline in the past returns at once with 0.
int qr_sleep_until_monotonic_ns(int64_t deadline_ns);

/// Reads CLOCK_MONOTONIC in nanoseconds with clock_gettime.
/// Exists so the real-time step reads the clock without going through Foundation or the Swift runtime.
int64_t qr_monotonic_ns(void);

/// Opens /dev/cpu_dma_latency and writes the 32-bit target latency in microseconds; the request
/// holds only while the returned descriptor stays open (close it to release).
/// Exists because the PM QoS interface is a raw binary write on a device file that must stay open.
/// Returns the file descriptor (>= 0) or a negated errno (-ENOENT where the file is absent).
int qr_request_cpu_dma_latency(int32_t microseconds);

#endif

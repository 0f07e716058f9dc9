// The CPU's cycle counter, which Swift cannot read: rdtsc is an instruction, not a function.
#ifndef QR_CYCLE_COUNTER_H
#define QR_CYCLE_COUNTER_H

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

/// Whether qr_cycle_counter reads a counter on this architecture (1) or always returns 0 (0).
static inline int qr_cycle_counter_exists(void) {
#if defined(__x86_64__) || defined(__i386__)
    return 1;
#else
    return 0;
#endif
}

/// The time-stamp counter (rdtsc, __rdtsc), in ticks of a constant rate; 0 where there is none.
/// Meaningful as time only where the kernel's clocksource is "tsc": the kernel has then checked
/// that the counter runs at a constant rate, also when idle, and agrees across CPUs.
static inline uint64_t qr_cycle_counter(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return 0;
#endif
}

#endif

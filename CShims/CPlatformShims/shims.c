#define _GNU_SOURCE
#include "CPlatformShims.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int qr_libusb_set_log_level(libusb_context *ctx, int level) {
    return libusb_set_option(ctx, LIBUSB_OPTION_LOG_LEVEL, level);
}

int qr_libusb_set_option_flag(libusb_context *ctx, int option) {
    return libusb_set_option(ctx, (enum libusb_option)option);
}

int qr_pin_current_thread_to_cpu(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return EINVAL;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int qr_set_fifo_priority(int priority) {
    struct sched_param param = { .sched_priority = priority };
    return sched_setscheduler(0, SCHED_FIFO, &param) == 0 ? 0 : errno;
}

int qr_current_scheduling(int *policy, int *priority) {
    int p = sched_getscheduler(0);
    if (p < 0) return errno;
    struct sched_param param;
    if (sched_getparam(0, &param) != 0) return errno;
    *policy = p;
    *priority = param.sched_priority;
    return 0;
}

int qr_lock_all_memory(void) {
    return mlockall(MCL_CURRENT | MCL_FUTURE) == 0 ? 0 : errno;
}

int qr_unlock_all_memory(void) {
    return munlockall() == 0 ? 0 : errno;
}

int qr_sleep_until_monotonic_ns(int64_t deadline_ns) {
    if (deadline_ns < 0) return EINVAL;
    struct timespec ts = { .tv_sec = deadline_ns / 1000000000LL, .tv_nsec = deadline_ns % 1000000000LL };
    int rc;
    do {
        rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    } while (rc == EINTR);
    return rc;
}

int64_t qr_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int qr_request_cpu_dma_latency(int32_t microseconds) {
    int fd;
    do {
        fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return -errno;
    ssize_t n;
    do {
        n = write(fd, &microseconds, sizeof(microseconds));
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(microseconds)) {
        int err = n < 0 ? errno : EIO;
        close(fd);
        return -err;
    }
    return fd;
}

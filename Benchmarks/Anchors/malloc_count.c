/*
 * malloc_count.c: an LD_PRELOAD allocation counter for profile.sh. Counts calls to malloc, calloc,
 * realloc, posix_memalign and aligned_alloc in the whole process (all threads) and prints
 * "mallocs=N" to stderr at exit. profile.sh runs the C anchor and the Swift side with two message
 * counts and divides the difference, so process start-up and setup cancel out.
 *
 * Build: gcc -O2 -shared -fPIC -o malloc_count.so malloc_count.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

static atomic_long allocations;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

/* dlsym may itself call calloc: serve those few calls from a static buffer (never freed). */
static _Alignas(16) char bootstrap[16384];
static size_t bootstrap_used;
static int resolving;

static void resolve(void) {
    if (real_malloc || resolving) return;
    resolving = 1;
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    resolving = 0;
}

static void count(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }

void *malloc(size_t size) {
    resolve();
    count();
    return real_malloc(size);
}

void *calloc(size_t n, size_t size) {
    if (!real_calloc) {
        resolve();
        if (!real_calloc) { /* called from within dlsym */
            size_t total = (n * size + 15) & ~(size_t)15;
            if (bootstrap_used + total > sizeof bootstrap) return NULL;
            void *p = bootstrap + bootstrap_used;
            bootstrap_used += total;
            return p; /* static storage is zeroed */
        }
    }
    count();
    return real_calloc(n, size);
}

void *realloc(void *pointer, size_t size) {
    resolve();
    count();
    return real_realloc(pointer, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    resolve();
    count();
    return real_posix_memalign(out, alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    resolve();
    count();
    return real_aligned_alloc(alignment, size);
}

__attribute__((destructor)) static void report(void) {
    char line[64];
    int length = snprintf(line, sizeof line, "mallocs=%ld\n", atomic_load(&allocations));
    if (length > 0) (void)!write(2, line, (size_t)length);
}

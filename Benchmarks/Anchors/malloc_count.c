/*
 * malloc_count.c: an LD_PRELOAD allocation counter for the benchmarks. Counts calls to malloc, calloc,
 * realloc, posix_memalign and aligned_alloc two ways:
 *   - in the whole process (all threads), printed as "mallocs=N" to stderr at exit: profile.sh runs the
 *     C anchor and the Swift side with two message counts and divides the difference, so process
 *     start-up and setup cancel out;
 *   - per thread: `qrrm_thread_mallocs()` returns the calling thread's count, which telemetry-compare
 *     looks up with dlsym to count the allocations of the producer thread alone (the real-time side).
 *
 * Build: gcc -O2 -shared -fPIC -o malloc_count.so malloc_count.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

static atomic_long process_allocations;
static __thread long thread_allocations;
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

static void count(void) {
    thread_allocations++;
    atomic_fetch_add_explicit(&process_allocations, 1, memory_order_relaxed);
}

long qrrm_thread_mallocs(void) { return thread_allocations; }

void *malloc(size_t size) {
    resolve();
    count();
    return real_malloc(size);
}

void *calloc(size_t n, size_t size) {
    if (!real_calloc) {
        if (resolving) { /* called from within dlsym */
            size_t bytes = (n * size + 15) & ~(size_t)15;
            if (bootstrap_used + bytes > sizeof bootstrap) return NULL;
            void *memory = bootstrap + bootstrap_used;
            bootstrap_used += bytes;
            return memory; /* static storage is already zeroed */
        }
        resolve();
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

/* The bootstrap buffer is not the allocator's: never hand it to the real free. */
void free(void *pointer) {
    static void (*real_free)(void *);
    if ((char *)pointer >= bootstrap && (char *)pointer < bootstrap + sizeof bootstrap) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(pointer);
}

__attribute__((destructor)) static void report(void) {
    char line[64];
    int length = snprintf(line, sizeof line, "mallocs=%ld\n", atomic_load(&process_allocations));
    if (length > 0) (void)!write(2, line, (size_t)length);
}

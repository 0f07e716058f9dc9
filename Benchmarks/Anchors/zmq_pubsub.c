/*
 * zmq_pubsub.c: the raw-libzmq anchor for Benchmarks/Sources/zmq-compare.
 *
 * PUB -> SUB over TCP loopback (tcp://127.0.0.1, an ephemeral port), two-frame messages: the
 * topic frame "node1/fridge/mxc" and a 64-byte payload. One context with libzmq's default single
 * I/O thread; the publisher is the main thread, the subscriber a pthread. SNDHWM on PUB and RCVHWM
 * on SUB are both set to the same value (default 0: unlimited, so PUB never drops and the
 * subscriber receives all N messages; with a limit, PUB drops at it and the drops are reported).
 * Linger is 1 s, as our Swift sockets default to.
 *
 * Subscription sync: the publisher keeps sending probes (the topic frame and an empty payload
 * frame) every millisecond until the subscriber, on its first probe, confirms over an inproc PAIR.
 * Only then are the N real messages sent; ZeroMQ keeps order on one connection, so the subscriber
 * skips the probes still in flight and starts its clock at the first 64-byte payload. After the N
 * messages the publisher sends an end marker (a 1-byte payload; repeated every 100 ms until the
 * subscriber confirms it over the PAIR, in case a high-water mark dropped it), and the subscriber
 * stops its clock when the marker arrives, right after the last message. The rate is messages
 * received / elapsed, as libzmq's own perf/local_thr computes it (CLOCK_MONOTONIC). Over the same
 * window the subscriber also reads the CPU time of the whole process (all threads: publisher,
 * subscriber, libzmq's I/O thread; getrusage RUSAGE_SELF), reported per message, which a loaded
 * machine disturbs less than the wall clock, and the process's minor page faults.
 *
 * Sending uses zmq_send (which copies the frame into a zmq_msg_t) from preallocated buffers;
 * receiving reuses one zmq_msg_t with zmq_msg_recv. The Swift side does exactly the same through
 * ZMQSocket.send(UnsafeRawBufferPointer, more:) and ZMQSocket.receive(into: &ZMQMessage).
 *
 * Build: gcc -O2 -o zmq_pubsub zmq_pubsub.c -lzmq -lpthread
 * Usage: zmq_pubsub [messages (default 2000000)] [hwm (default 0)]
 * Prints one line:
 *   "anchor=c messages=N received=M seconds=S msgs_per_sec=R cpu_ns_per_msg=C minor_faults=F".
 */
#include <zmq.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define TOPIC "node1/fridge/mxc"
#define SUBSCRIPTION "node1/"
#define PAYLOAD_SIZE 64
#define END_MARKER_SIZE 1
#define SYNC_ENDPOINT "inproc://zmq-bench-sync"

typedef struct {
    void *context;
    char endpoint[256];
    int hwm;
    /* results */
    int failed;
    long received;
    double seconds;
    double cpu_seconds;
    long minor_faults;
} receiver_args;

static void die(const char *what) {
    fprintf(stderr, "zmq_pubsub: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static void set_int(void *socket, int option, int value, const char *what) {
    if (zmq_setsockopt(socket, option, &value, sizeof value) != 0) die(what);
}

/* CPU time of the whole process (all its threads) and its minor page faults so far. */
static double cpu_seconds(long *minor_faults) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    *minor_faults = usage.ru_minflt;
    return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
         + (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Receives one two-frame message into the reused frame; returns the payload size or -1. */
static int receive_message(void *sub, zmq_msg_t *frame) {
    if (zmq_msg_recv(frame, sub, 0) < 0) return -1; /* topic */
    if (zmq_msg_recv(frame, sub, 0) < 0) return -1; /* payload */
    return (int)zmq_msg_size(frame);
}

static void *receiver_main(void *argument) {
    receiver_args *args = argument;
    args->failed = 1;

    void *sub = zmq_socket(args->context, ZMQ_SUB);
    if (!sub) die("zmq_socket(SUB)");
    set_int(sub, ZMQ_LINGER, 1000, "ZMQ_LINGER");
    set_int(sub, ZMQ_RCVHWM, args->hwm, "ZMQ_RCVHWM");
    if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, SUBSCRIPTION, strlen(SUBSCRIPTION)) != 0) die("ZMQ_SUBSCRIBE");
    if (zmq_connect(sub, args->endpoint) != 0) die("zmq_connect(SUB)");

    void *signal = zmq_socket(args->context, ZMQ_PAIR);
    if (!signal) die("zmq_socket(PAIR)");
    set_int(signal, ZMQ_LINGER, 1000, "ZMQ_LINGER");
    if (zmq_connect(signal, SYNC_ENDPOINT) != 0) die("zmq_connect(PAIR)");

    zmq_msg_t frame;
    zmq_msg_init(&frame);

    /* Sync: the first message that arrives is a probe; confirm it. */
    int size = receive_message(sub, &frame);
    if (size != 0) goto done;
    if (zmq_send(signal, "R", 1, 0) != 1) goto done;

    /* Skip the probes still in flight; the clock starts at the first real message. */
    do {
        size = receive_message(sub, &frame);
    } while (size == 0);
    if (size != PAYLOAD_SIZE) goto done;
    long faults_start;
    double cpu_start = cpu_seconds(&faults_start);
    double start = now_seconds();
    long received = 1;
    while ((size = receive_message(sub, &frame)) == PAYLOAD_SIZE) received++;
    if (size != END_MARKER_SIZE) goto done;
    args->seconds = now_seconds() - start;
    long faults_end;
    args->cpu_seconds = cpu_seconds(&faults_end) - cpu_start;
    args->minor_faults = faults_end - faults_start;
    args->received = received;
    if (zmq_send(signal, "E", 1, 0) != 1) goto done;
    args->failed = 0;

done:
    zmq_msg_close(&frame);
    zmq_close(signal);
    zmq_close(sub);
    return NULL;
}

int main(int argc, char **argv) {
    long messages = argc > 1 ? atol(argv[1]) : 2000000;
    int hwm = argc > 2 ? atoi(argv[2]) : 0;
    if (messages < 2 || hwm < 0) {
        fprintf(stderr, "usage: %s [messages >= 2] [hwm >= 0]\n", argv[0]);
        return 2;
    }

    void *context = zmq_ctx_new();
    if (!context) die("zmq_ctx_new");

    void *pub = zmq_socket(context, ZMQ_PUB);
    if (!pub) die("zmq_socket(PUB)");
    set_int(pub, ZMQ_LINGER, 1000, "ZMQ_LINGER");
    set_int(pub, ZMQ_SNDHWM, hwm, "ZMQ_SNDHWM");
    if (zmq_bind(pub, "tcp://127.0.0.1:*") != 0) die("zmq_bind(PUB)");

    receiver_args args = {.context = context, .hwm = hwm};
    size_t endpoint_size = sizeof args.endpoint;
    if (zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, args.endpoint, &endpoint_size) != 0) die("ZMQ_LAST_ENDPOINT");

    void *control = zmq_socket(context, ZMQ_PAIR);
    if (!control) die("zmq_socket(PAIR)");
    set_int(control, ZMQ_LINGER, 1000, "ZMQ_LINGER");
    if (zmq_bind(control, SYNC_ENDPOINT) != 0) die("zmq_bind(PAIR)");

    pthread_t receiver;
    if (pthread_create(&receiver, NULL, receiver_main, &args) != 0) {
        fprintf(stderr, "zmq_pubsub: pthread_create failed\n");
        return 1;
    }

    static const char topic[] = TOPIC;
    const size_t topic_size = sizeof topic - 1;
    unsigned char payload[PAYLOAD_SIZE];
    for (int i = 0; i < PAYLOAD_SIZE; i++) payload[i] = (unsigned char)i;

    /* Sync: probe every millisecond until the subscriber confirms (at most 30 s). */
    zmq_msg_t reply;
    zmq_msg_init(&reply);
    zmq_pollitem_t item = {.socket = control, .events = ZMQ_POLLIN};
    const double deadline = now_seconds() + 30.0;
    for (;;) {
        if (now_seconds() > deadline) {
            fprintf(stderr, "zmq_pubsub: the subscriber did not confirm its subscription within 30 s\n");
            return 1;
        }
        if (zmq_send(pub, topic, topic_size, ZMQ_SNDMORE) < 0) die("zmq_send(probe topic)");
        if (zmq_send(pub, payload, 0, 0) < 0) die("zmq_send(probe)");
        int ready = zmq_poll(&item, 1, 1);
        if (ready < 0 && zmq_errno() != EINTR) die("zmq_poll");
        if (ready > 0) {
            if (zmq_msg_recv(&reply, control, ZMQ_DONTWAIT) < 0) die("zmq_msg_recv(PAIR)");
            break;
        }
    }
    zmq_msg_close(&reply);

    /* The measured stream. */
    for (long i = 0; i < messages; i++) {
        if (zmq_send(pub, topic, topic_size, ZMQ_SNDMORE) < 0) die("zmq_send(topic)");
        if (zmq_send(pub, payload, PAYLOAD_SIZE, 0) < 0) die("zmq_send(payload)");
    }

    /* The end marker, until the subscriber confirms it (at most 30 s). */
    zmq_msg_init(&reply);
    const double end_deadline = now_seconds() + 30.0;
    for (;;) {
        if (now_seconds() > end_deadline) {
            fprintf(stderr, "zmq_pubsub: the subscriber did not confirm the end marker within 30 s\n");
            return 1;
        }
        if (zmq_send(pub, topic, topic_size, ZMQ_SNDMORE) < 0) die("zmq_send(end topic)");
        if (zmq_send(pub, payload, END_MARKER_SIZE, 0) < 0) die("zmq_send(end)");
        int ready = zmq_poll(&item, 1, 100);
        if (ready < 0 && zmq_errno() != EINTR) die("zmq_poll");
        if (ready > 0) {
            if (zmq_msg_recv(&reply, control, ZMQ_DONTWAIT) < 0) die("zmq_msg_recv(PAIR)");
            break;
        }
    }
    zmq_msg_close(&reply);

    pthread_join(receiver, NULL);
    zmq_close(control);
    zmq_close(pub);
    zmq_ctx_term(context);

    if (args.failed) {
        fprintf(stderr, "zmq_pubsub: the subscriber failed: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    printf("anchor=c messages=%ld received=%ld seconds=%.6f msgs_per_sec=%.0f cpu_ns_per_msg=%.1f minor_faults=%ld\n",
           messages, args.received, args.seconds, (double)args.received / args.seconds,
           args.cpu_seconds * 1e9 / (double)args.received, args.minor_faults);
    return 0;
}

/*
 * telemetry_raw.c: the raw-libzmq anchor for Benchmarks/Sources/telemetry-compare.
 *
 * The same wire traffic as a QuantumRealm telemetry publisher, without our code: PUB -> SUB over
 * TCP loopback, three-frame messages [topic][header][payload], the header and payload encoded
 * once before the run (a 41-byte FrameHeader; a Payload of one Sample, 29 bytes, or of a
 * 64-sample SampleBatch, 660 bytes: times as schema 2's zigzag-varint deltas, hardware time
 * steps of 1 ns as telemetry-compare records and host time steps of 50 ns, a 1-byte varint each,
 * as the producer's steps mostly are: the publisher's batches averaged 664 to 665 bytes in a
 * measured run). zmq_send from preallocated buffers, zmq_msg_recv into one
 * reused zmq_msg_t, no decoding. Subscription sync, end marker and timing as in zmq_pubsub.c:
 * probes and the end marker are messages whose payload frame is 0 and 1 bytes long.
 *
 * Build: gcc -O2 -o telemetry_raw telemetry_raw.c -lzmq -lpthread
 * Usage: telemetry_raw [messages (default 1000000)] [samples per message: 1 or 64 (default 1)]
 *        [contexts: 1, PUB and SUB sharing one ZeroMQ context and so one I/O thread (default, what
 *        telemetry-compare runs), or 2, a context each, as our publisher and subscriber have]
 * Prints: "anchor=c messages=N received=M samples_per_message=K seconds=S msgs_per_sec=R samples_per_sec=Q"
 */
#include <zmq.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOPIC "node1/ls372/mxc"
#define SYNC_ENDPOINT "inproc://telemetry-bench-sync"

typedef struct {
    void *context;
    /* The SUB socket's context: the PUB's (one I/O thread for both) or its own. */
    void *sub_context;
    char endpoint[256];
    size_t payload_size;
    int failed;
    long received;
    double seconds;
} receiver_args;

static void die(const char *what) {
    fprintf(stderr, "telemetry_raw: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static void set_int(void *socket, int option, int value, const char *what) {
    if (zmq_setsockopt(socket, option, &value, sizeof value) != 0) die(what);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Receives one three-frame message; returns the payload size or -1. */
static long receive_message(void *sub, zmq_msg_t *frame) {
    if (zmq_msg_recv(frame, sub, 0) < 0) return -1; /* topic */
    if (zmq_msg_recv(frame, sub, 0) < 0) return -1; /* header */
    if (zmq_msg_recv(frame, sub, 0) < 0) return -1; /* payload */
    return (long)zmq_msg_size(frame);
}

static void *receiver_main(void *argument) {
    receiver_args *args = argument;
    args->failed = 1;
    void *sub = zmq_socket(args->sub_context, ZMQ_SUB);
    if (!sub) die("zmq_socket(SUB)");
    set_int(sub, ZMQ_LINGER, 1000, "ZMQ_LINGER");
    set_int(sub, ZMQ_RCVHWM, 0, "ZMQ_RCVHWM");
    if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "node1/", 6) != 0) die("ZMQ_SUBSCRIBE");
    if (zmq_connect(sub, args->endpoint) != 0) die("zmq_connect(SUB)");
    void *signal = zmq_socket(args->context, ZMQ_PAIR);
    if (!signal) die("zmq_socket(PAIR)");
    if (zmq_connect(signal, SYNC_ENDPOINT) != 0) die("zmq_connect(PAIR)");

    zmq_msg_t frame;
    zmq_msg_init(&frame);
    long size = receive_message(sub, &frame);
    if (size != 0) goto done;
    if (zmq_send(signal, "R", 1, 0) != 1) goto done;
    do {
        size = receive_message(sub, &frame);
    } while (size == 0);
    if (size != (long)args->payload_size) goto done;
    double start = now_seconds();
    long received = 1;
    while ((size = receive_message(sub, &frame)) == (long)args->payload_size) received++;
    if (size != 1) goto done;
    args->seconds = now_seconds() - start;
    args->received = received;
    if (zmq_send(signal, "E", 1, 0) != 1) goto done;
    args->failed = 0;
done:
    zmq_msg_close(&frame);
    zmq_close(signal);
    zmq_close(sub);
    return NULL;
}

/* Appends a protobuf varint. */
static size_t varint(unsigned char *out, uint64_t value) {
    size_t n = 0;
    while (value >= 0x80) { out[n++] = (unsigned char)(value | 0x80); value >>= 7; }
    out[n++] = (unsigned char)value;
    return n;
}

static size_t fixed64(unsigned char *out, uint64_t value) {
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(value >> (8 * i));
    return 8;
}

int main(int argc, char **argv) {
    long messages = argc > 1 ? atol(argv[1]) : 1000000;
    int samples = argc > 2 ? atoi(argv[2]) : 1;
    int contexts = argc > 3 ? atoi(argv[3]) : 1;
    if (messages < 2 || (samples != 1 && samples != 64) || (contexts != 1 && contexts != 2)) {
        fprintf(stderr, "usage: %s [messages >= 2] [samples per message: 1 or 64] [contexts: 1 or 2]\n", argv[0]);
        return 2;
    }

    /* FrameHeader{schema_version 2, publisher_id "node1", instance, sequence (3 bytes), clocks}. */
    unsigned char header[64];
    size_t h = 0;
    header[h++] = 0x08; header[h++] = 2;
    header[h++] = 0x12; header[h++] = 5; memcpy(header + h, "node1", 5); h += 5;
    header[h++] = 0x19; h += fixed64(header + h, 0x0123456789abcdefULL);
    header[h++] = 0x20; h += varint(header + h, 1000000);
    header[h++] = 0x29; h += fixed64(header + h, 123456789);
    header[h++] = 0x31; h += fixed64(header + h, 1790000000000000000ULL);

    /* Payload{sample} or Payload{batch} of 64 samples, as the publisher writes them. */
    static unsigned char payload[2048];
    size_t p = 0;
    if (samples == 1) {
        payload[p++] = 0x1A; payload[p++] = 27;
        payload[p++] = 0x09; p += fixed64(payload + p, 0x3f847ae147ae147bULL);
        payload[p++] = 0x11; p += fixed64(payload + p, 42);
        payload[p++] = 0x19; p += fixed64(payload + p, 1790000000000000000ULL);
    } else {
        /* SampleBatch{values = 1 (packed double), hardware_time_delta_ns = 4, host_time_delta_ns = 5
         * (packed sint64)}: columns built first, then framed. */
        unsigned char hardware[1024], host[1024];
        size_t hn = 0, sn = 0;
        hn += varint(hardware + hn, 2 * 1000000ULL);            /* zigzag(1000000): the first time */
        sn += varint(host + sn, 2 * 1790000000000000000ULL);    /* zigzag(host time) */
        for (int i = 1; i < 64; i++) {
            hn += varint(hardware + hn, 2 * 1);                 /* zigzag(+1 ns) */
            sn += varint(host + sn, 2 * 50);                    /* zigzag(+50 ns) */
        }
        uint64_t column = 8 * 64;
        uint64_t inner = (1 + 2 + column) + (1 + 1 + hn) + (1 + 1 + sn);
        payload[p++] = 0x22; p += varint(payload + p, inner);
        payload[p++] = 0x0A; p += varint(payload + p, column);
        for (int i = 0; i < 64; i++) p += fixed64(payload + p, (uint64_t)i);
        payload[p++] = 0x22; p += varint(payload + p, hn); memcpy(payload + p, hardware, hn); p += hn;
        payload[p++] = 0x2A; p += varint(payload + p, sn); memcpy(payload + p, host, sn); p += sn;
    }

    void *context = zmq_ctx_new();
    if (!context) die("zmq_ctx_new");
    void *pub = zmq_socket(context, ZMQ_PUB);
    if (!pub) die("zmq_socket(PUB)");
    set_int(pub, ZMQ_LINGER, 1000, "ZMQ_LINGER");
    set_int(pub, ZMQ_SNDHWM, 0, "ZMQ_SNDHWM");
    if (zmq_bind(pub, "tcp://127.0.0.1:*") != 0) die("zmq_bind(PUB)");
    void *sub_context = contexts == 2 ? zmq_ctx_new() : context;
    if (!sub_context) die("zmq_ctx_new");
    receiver_args args = {.context = context, .sub_context = sub_context, .payload_size = p};
    size_t endpoint_size = sizeof args.endpoint;
    if (zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, args.endpoint, &endpoint_size) != 0) die("ZMQ_LAST_ENDPOINT");
    void *control = zmq_socket(context, ZMQ_PAIR);
    if (!control) die("zmq_socket(PAIR)");
    if (zmq_bind(control, SYNC_ENDPOINT) != 0) die("zmq_bind(PAIR)");
    pthread_t receiver;
    if (pthread_create(&receiver, NULL, receiver_main, &args) != 0) {
        fprintf(stderr, "telemetry_raw: pthread_create failed\n");
        return 1;
    }

    static const char topic[] = TOPIC;
    const size_t topic_size = sizeof topic - 1;
    zmq_msg_t reply;
    zmq_pollitem_t item = {.socket = control, .events = ZMQ_POLLIN};
    for (int phase = 0; phase < 2; phase++) {
        /* phase 0: probes until the subscriber confirms; then the stream; phase 1: end markers. */
        zmq_msg_init(&reply);
        const double deadline = now_seconds() + 30.0;
        for (;;) {
            if (now_seconds() > deadline) { fprintf(stderr, "telemetry_raw: no confirmation within 30 s\n"); return 1; }
            if (zmq_send(pub, topic, topic_size, ZMQ_SNDMORE) < 0) die("zmq_send(topic)");
            if (zmq_send(pub, header, h, ZMQ_SNDMORE) < 0) die("zmq_send(header)");
            if (zmq_send(pub, payload, (size_t)phase, 0) < 0) die("zmq_send(marker)");
            int ready = zmq_poll(&item, 1, phase == 0 ? 1 : 100);
            if (ready < 0 && zmq_errno() != EINTR) die("zmq_poll");
            if (ready > 0) {
                if (zmq_msg_recv(&reply, control, ZMQ_DONTWAIT) < 0) die("zmq_msg_recv(PAIR)");
                break;
            }
        }
        zmq_msg_close(&reply);
        if (phase == 0) {
            for (long i = 0; i < messages; i++) {
                if (zmq_send(pub, topic, topic_size, ZMQ_SNDMORE) < 0) die("zmq_send(topic)");
                if (zmq_send(pub, header, h, ZMQ_SNDMORE) < 0) die("zmq_send(header)");
                if (zmq_send(pub, payload, p, 0) < 0) die("zmq_send(payload)");
            }
        }
    }
    pthread_join(receiver, NULL);
    zmq_close(control);
    zmq_close(pub);
    if (sub_context != context) zmq_ctx_term(sub_context);
    zmq_ctx_term(context);
    if (args.failed) { fprintf(stderr, "telemetry_raw: the subscriber failed\n"); return 1; }
    printf("anchor=c messages=%ld received=%ld samples_per_message=%d seconds=%.6f msgs_per_sec=%.0f samples_per_sec=%.0f\n",
           messages, args.received, samples, args.seconds, (double)args.received / args.seconds,
           (double)args.received * samples / args.seconds);
    return 0;
}

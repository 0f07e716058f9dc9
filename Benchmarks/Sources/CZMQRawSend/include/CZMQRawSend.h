// A raw-libzmq PUB send loop, called from the ordo-one benchmarks to measure what libzmq itself
// allocates on the send path (the baseline for our Swift API's send path).
// The header names no libzmq type, so this module never clashes with the main package's CZeroMQ.
#ifndef CZMQ_RAW_SEND_H
#define CZMQ_RAW_SEND_H

#include <stddef.h>

typedef struct czmq_raw_publisher czmq_raw_publisher;

/// A context and a PUB socket bound to tcp://127.0.0.1:* with no subscriber, SNDHWM `hwm`.
/// NULL on failure.
czmq_raw_publisher *czmq_raw_publisher_open(int hwm);

/// Sends `count` two-frame messages (topic with ZMQ_SNDMORE, then payload) with zmq_send.
/// Returns 0, or -1 with zmq_errno() set.
int czmq_raw_publisher_send(czmq_raw_publisher *publisher, const void *topic, size_t topic_size,
                            const void *payload, size_t payload_size, long count);

void czmq_raw_publisher_close(czmq_raw_publisher *publisher);

#endif

#include "CZMQRawSend.h"

#include <stdlib.h>
#include <zmq.h>

struct czmq_raw_publisher {
    void *context;
    void *socket;
};

czmq_raw_publisher *czmq_raw_publisher_open(int hwm) {
    czmq_raw_publisher *publisher = calloc(1, sizeof *publisher);
    if (!publisher) return NULL;
    publisher->context = zmq_ctx_new();
    if (!publisher->context) goto fail;
    publisher->socket = zmq_socket(publisher->context, ZMQ_PUB);
    if (!publisher->socket) goto fail;
    int linger = 1000;
    if (zmq_setsockopt(publisher->socket, ZMQ_LINGER, &linger, sizeof linger) != 0) goto fail;
    if (zmq_setsockopt(publisher->socket, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0) goto fail;
    if (zmq_bind(publisher->socket, "tcp://127.0.0.1:*") != 0) goto fail;
    return publisher;
fail:
    czmq_raw_publisher_close(publisher);
    return NULL;
}

int czmq_raw_publisher_send(czmq_raw_publisher *publisher, const void *topic, size_t topic_size,
                            const void *payload, size_t payload_size, long count) {
    for (long i = 0; i < count; i++) {
        if (zmq_send(publisher->socket, topic, topic_size, ZMQ_SNDMORE) < 0) return -1;
        if (zmq_send(publisher->socket, payload, payload_size, 0) < 0) return -1;
    }
    return 0;
}

void czmq_raw_publisher_close(czmq_raw_publisher *publisher) {
    if (!publisher) return;
    if (publisher->socket) zmq_close(publisher->socket);
    if (publisher->context) zmq_ctx_term(publisher->context);
    free(publisher);
}

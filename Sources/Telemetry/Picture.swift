/// The last known state of one channel.
public struct ChannelPicture: Sendable, Equatable {
    public var descriptor: WireChannelDescriptor?
    public var last: WireSample?
    /// The sequence number of the message the state comes from (the snapshot's for a snapshot).
    public var sequence: UInt64
    /// The publisher instance that sequence belongs to.
    public var instance: UInt64
}

/// A late joiner's consistent picture of the channels: a snapshot, then the bus messages
/// that are newer than it (by sequence, per topic and publisher instance).
///
/// Subscribe first, then fetch the snapshot, then apply both: messages the snapshot already
/// contains are recognised by their sequence number and skipped.
public struct TelemetryPicture: Sendable {
    /// Channels by topic.
    public private(set) var channels: [String: ChannelPicture] = [:]

    public init() {}

    /// Takes every channel of `snapshot`.
    public mutating func apply(_ snapshot: WireSnapshot) {
        for state in snapshot.channels {
            let topic = state.descriptor.topic
            if let known = channels[topic], known.instance == snapshot.publisherInstance, known.sequence >= state.sequence { continue }
            channels[topic] = ChannelPicture(
                descriptor: state.descriptor, last: state.hasLast ? state.last : nil,
                sequence: state.sequence, instance: snapshot.publisherInstance)
        }
    }

    /// Applies a bus message unless the picture already holds it or something newer;
    /// returns whether it changed the picture.
    @discardableResult
    public mutating func apply(_ message: TelemetryMessage) -> Bool {
        let instance = message.header.publisherInstance
        var channel = channels[message.topic] ?? ChannelPicture(sequence: 0, instance: instance)
        if channel.instance == instance && message.header.sequence <= channel.sequence { return false }
        switch message.payload.body {
        case .descriptor(let descriptor): channel.descriptor = descriptor
        case .sample(let sample): channel.last = sample
        case .batch(let batch):
            guard let value = batch.values.last, let hardware = batch.hardwareTimeNs.last, let host = batch.hostTimeNs.last else { return false }
            channel.last = WireSample.with { $0.value = value; $0.hardwareTimeNs = hardware; $0.hostTimeNs = host }
        default:
            return false
        }
        channel.sequence = message.header.sequence
        channel.instance = instance
        channels[message.topic] = channel
        return true
    }
}

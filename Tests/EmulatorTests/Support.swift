import Foundation
@testable import Emulator

/// The shipped profiles, found from this file's location.
enum Profiles {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("HardwareProfiles")

    static func load(_ name: String) throws -> HardwareProfile {
        try HardwareProfile(contentsOf: directory.appendingPathComponent(name))
    }
}

/// Sends `text` to a twin session and returns what it replies, as text.
func exchange(_ session: any TwinSession, _ text: String) -> String {
    String(decoding: session.receive(Array(text.utf8)), as: UTF8.self)
}

/// A station built from a shipped profile.
func station(_ file: String) throws -> EmulatedStation {
    EmulatedStation(profile: try Profiles.load(file))
}

extension EmulatedStation {
    /// A fresh session on instrument `id`.
    func session(_ id: String) -> any TwinSession {
        profileTwin(id)!.makeSession()
    }
}

enum EmulatedStationFactory {
    static func bluefors() throws -> EmulatedStation { try station("bluefors-ld400.yaml") }
}

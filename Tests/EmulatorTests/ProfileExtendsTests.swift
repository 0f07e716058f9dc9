import Foundation
import Testing
@testable import Emulator

@Suite("Hardware profiles: extends")
struct ProfileExtendsTests {
    /// Writes `files` into a fresh folder and returns it.
    private func folder(_ files: [String: String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qrrm-extends-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return url
    }

    @Test("A profile extending another takes its physics and instruments, adds its own, and overrides what it gives")
    func inherits() throws {
        let dir = try folder([
            "base.yaml": ProfileTests.valid + "\nspeedFactor: 5\nseed: 9\n",
            "child.yaml": "name: child\nextends: base.yaml\nseed: 11\ninstruments:\n  - {id: f71, model: f71}\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try HardwareProfile(contentsOf: dir.appendingPathComponent("base.yaml"))
        let child = try HardwareProfile(contentsOf: dir.appendingPathComponent("child.yaml"))
        #expect(child.name == "child")
        #expect(child.speedFactor == 5)
        #expect(child.instruments.map(\.id) == ["ls372", "f71"])
        #expect(child.physics.thermal == base.physics.thermal)
        #expect(base.physics.seed == 9 && child.physics.seed == 11)
    }

    @Test("Broken extends are located errors", arguments: [
        ("name: c\nextends: missing.yaml\n", "cannot read the base profile"),
        ("name: c\nextends: loop.yaml\n", "chains more than"),
        ("name: c\nextends: base.yaml\ninstruments:\n  - {id: ls372, model: f71}\n", "duplicate instrument id \"ls372\""),
        ("name: c\nextends: [base.yaml]\n", "expected a text value"),
    ])
    func broken(text: String, expected: String) throws {
        let dir = try folder([
            "base.yaml": ProfileTests.valid, "loop.yaml": "name: loop\nextends: loop.yaml\n", "child.yaml": text,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: ProfileError.self) { try HardwareProfile(contentsOf: dir.appendingPathComponent("child.yaml")) }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("child.yaml:") == true || expected == "chains more than", "\(String(describing: error))")
    }

    @Test("Text without a file cannot extend")
    func needsFile() {
        let error = #expect(throws: ProfileError.self) { try HardwareProfile(yaml: "name: x\nextends: base.yaml\n", file: "x.yaml") }
        #expect(error?.description.contains("extends needs the profile to be read from a file") == true)
    }
}

// A libFuzzer harness for the safetensors reader, compiled by Scripts/fuzz_safetensors.sh
// together with the sources of the Recurrent module (so it lives in the same module and
// needs no import):
//
//     swiftc -sanitize=fuzzer,address -parse-as-library … Sources/Recurrent/**/*.swift main.swift
//
// Every input must either be read or be rejected with a SafeTensorsError; anything else
// (a trap, an address-sanitizer report, another error type) is a crash libFuzzer records.
// An accepted file must also survive a write-and-read round trip with the same names,
// shapes and metadata.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func safeTensorsFuzzerTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    let file: SafeTensorsFile
    do {
        file = try SafeTensorsFile(data: data)
    } catch is SafeTensorsError {
        return 0
    } catch {
        fatalError("safetensors reader threw something else than a SafeTensorsError: \(error)")
    }
    // Accepted: the description of every error path is exercised elsewhere; here check that
    // what was read writes and reads back the same.
    do {
        let copy = try SafeTensorsFile(data: try SafeTensors.encode(file.tensors, metadata: file.metadata))
        precondition(Set(copy.names) == Set(file.names), "round trip changed the names")
        precondition(copy.metadata == file.metadata, "round trip changed the metadata")
        for (name, tensor) in file.tensors {
            guard let other = copy.tensors[name] else { fatalError("round trip lost \(name)") }
            precondition(other.shape == tensor.shape, "round trip changed the shape of \(name)")
            let same = zip(other.scalars, tensor.scalars).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
            precondition(same, "round trip changed the values of \(name)")
        }
    } catch let error as SafeTensorsError {
        // The only legitimate failure: a tensor named "__metadata__" cannot be written, but
        // such a name is never read as a tensor, so this is a bug.
        fatalError("re-encoding an accepted file failed: \(error)")
    } catch {
        fatalError("re-encoding threw \(error)")
    }
    return 0
}

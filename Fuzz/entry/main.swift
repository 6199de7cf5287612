import Foundation
import MSTaRFuzz

/// The harness this process fuzzes, named by MSTAR_FUZZ_TARGET (scripts/fuzz sets it): one
/// executable serves every target, and libFuzzer's callback cannot carry a context.
nonisolated(unsafe) let harness: (Data) -> Void = {
    let name = ProcessInfo.processInfo.environment["MSTAR_FUZZ_TARGET"] ?? ""
    guard let run = FuzzTargets.harness(name) else {
        FileHandle.standardError.write(Data("fuzz: set MSTAR_FUZZ_TARGET to one of \(FuzzTargets.all.map(\.name).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return run
}()

/// One input from libFuzzer; the harness returns unless the decoder misbehaves, which libFuzzer reports.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    harness(Data(UnsafeRawBufferPointer(start: bytes, count: count)))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

// SwiftPM points an executable's main at this file's top-level code, not at libFuzzer's main, so
// the fuzzer is started here.
_ = harness
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))

import Foundation
import MSTaRTensor

/// `SafeTensors.decode`: any bytes as a safetensors file.
public enum SafeTensorsHarness {
    /// Decodes `data`; what decodes must be self-consistent and survive an encode-decode round trip.
    public static func run(_ data: Data) {
        guard let file = try? SafeTensors.decode(data, source: "fuzz input") else { return }
        check(file, from: data)
        // Every decoded value is a Float32 now, so writing it back as F32 and reading it again is exact
        // (encode refuses some names decode accepts, such as "": those files are not round-tripped).
        guard let again = try? SafeTensors.encode(file.order.map { ($0, file.tensors[$0]!) }, metadata: file.metadata) else { return }
        let reread: SafeTensors.File
        do { reread = try SafeTensors.decode(again, source: "re-encoded fuzz input") } catch {
            fatalError("SafeTensors.decode refuses what SafeTensors.encode wrote from a decoded file: \(error)")
        }
        guard reread.order == file.order, reread.metadata == file.metadata,
              file.order.allSatisfy({ bits(reread.tensors[$0]!) == bits(file.tensors[$0]!) && reread.tensors[$0]!.shape == file.tensors[$0]!.shape })
        else { fatalError("a decoded safetensors file does not survive encode and decode unchanged") }
    }

    /// Shapes whose element count overflows, or tensors holding more elements than their bytes
    /// allow, mean the size checks let something through.
    private static func check(_ file: SafeTensors.File, from data: Data) {
        guard file.order.count == file.tensors.count, Set(file.order) == Set(file.tensors.keys) else {
            fatalError("SafeTensors.decode: order \(file.order.count) names, tensors \(file.tensors.count)")
        }
        for (name, t) in file.tensors {
            var n = 1
            for d in t.shape {
                let (product, overflow) = n.multipliedReportingOverflow(by: d)
                if d < 0 || overflow { fatalError("SafeTensors.decode accepted '\(name)' of shape \(t.shape), whose size overflows") }
                n = product
            }
            if n != t.count || t.storage.count < t.offset + t.count || 2 * t.count > data.count {
                fatalError("SafeTensors.decode made '\(name)' of shape \(t.shape) with \(t.count) elements from \(data.count) bytes")
            }
        }
    }

    private static func bits(_ t: Tensor) -> [UInt32] {
        (0..<t.count).map { t.ptr[$0].bitPattern }
    }
}

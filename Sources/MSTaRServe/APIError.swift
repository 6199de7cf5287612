import Foundation

/// An error the API answers with: an HTTP status and a one-line message that says what to do,
/// sent as OpenAI's `{"error":{"message","type","param","code"}}`.
public struct APIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The HTTP status code.
    public var status: Int
    /// One line: what is wrong and what to do.
    public var message: String
    /// OpenAI's error type (`invalid_request_error` for everything the client can fix).
    public var type: String
    /// The request field at fault, when there is one.
    public var param: String?
    /// A short machine-readable code (OpenAI's, e.g. `model_not_found`), when there is one.
    public var code: String?

    /// An error with every field given.
    public init(status: Int, _ message: String, type: String = "invalid_request_error", param: String? = nil, code: String? = nil) {
        self.status = status; self.message = message; self.type = type; self.param = param; self.code = code
    }

    /// 400: the request is malformed or asks for something this server does not do.
    public static func badRequest(_ message: String, param: String? = nil) -> APIError {
        APIError(status: 400, message, param: param)
    }

    public var description: String { "\(status): \(message)" }

    /// The JSON body.
    public var body: ErrorResponse {
        ErrorResponse(error: .init(message: message, type: type, param: param, code: code))
    }
}

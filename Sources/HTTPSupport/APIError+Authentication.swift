import Auth

extension APIError {
    /// The one mapping of Auth's refusals to the contract's 401: `WWW-Authenticate: Bearer` when
    /// no token was presented, `Bearer error="invalid_token"` when one was refused. The
    /// client sees `detail`; `logDetail` goes to the request log only.
    public init(_ error: AuthenticationError) {
        self = .unauthorized(
            error.detail,
            logDetail: error.logDetail,
            challenge: error.tokenWasPresented ? .invalidToken : .credentialsRequired
        )
    }

    /// The one mapping of Auth's authorization refusals: 403 `forbidden` with
    /// `Bearer error="insufficient_scope", scope="..."`.
    public init(_ error: AuthorizationError) {
        self = .missingScope(error.requiredScope)
    }
}

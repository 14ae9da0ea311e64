package signing

import "errors"

// Sentinel errors, compared with errors.Is. Their text says what went wrong; the wrapping error
// names the envelope part, signature index or key.
var (
	// ErrMalformedEnvelope is wrapped by every decoding error: not JSON, wrong field types,
	// missing required fields, bad base64.
	ErrMalformedEnvelope = errors.New("malformed DSSE envelope")
	// ErrEnvelopeTooLarge means the envelope or one of its fields is over a decoding limit.
	ErrEnvelopeTooLarge = errors.New("DSSE envelope over size limit")
	// ErrTooManySignatures means the envelope carries more signatures than the limit allows.
	ErrTooManySignatures = errors.New("DSSE envelope has too many signatures")
	// ErrNoSignatures means the envelope carries no signature at all.
	ErrNoSignatures = errors.New("DSSE envelope has no signatures")

	// ErrUnknownAlgorithm means an algorithm name this package does not implement.
	ErrUnknownAlgorithm = errors.New("unknown signature algorithm")
	// ErrUnknownKey means no trusted key has the keyId a signature names.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrAlgorithmMismatch means a signature declares an algorithm other than its key's.
	ErrAlgorithmMismatch = errors.New("signature algorithm does not match the key")
	// ErrBadSignature means the signature bytes do not verify over the envelope.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrUntrusted means no signature of the envelope verified under a trusted key.
	ErrUntrusted = errors.New("no valid signature from a trusted key")

	// ErrNoActiveKey means the keyring has no key that may sign.
	ErrNoActiveKey = errors.New("no active signing key")
	// ErrRetiredKey means a retired key was asked to sign; retired keys only verify.
	ErrRetiredKey = errors.New("signing key is retired and may only verify")
	// ErrDuplicateKey means two keys of one keyring share a keyId.
	ErrDuplicateKey = errors.New("duplicate keyId in keyring")
	// ErrInvalidKey means key material that cannot be used: wrong type, curve, size or encoding.
	ErrInvalidKey = errors.New("invalid key")
	// ErrSymmetricKey means a public half was asked of an HMAC key, which has none.
	ErrSymmetricKey = errors.New("hs256 keys are symmetric and have no public key")
	// ErrNoKeys means a key provider has no key configured.
	ErrNoKeys = errors.New("no signing key configured")

	// ErrSubjectMismatch means a referrer's payload does not refer to the expected subject.
	ErrSubjectMismatch = errors.New("envelope does not refer to the subject")
	// ErrUnsupportedPayloadType means a referrer's payload type names no known subject field.
	ErrUnsupportedPayloadType = errors.New("payload type has no known subject")
)

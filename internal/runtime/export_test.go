package runtime

// DecodePieces is the piece-by-piece decoder, for holding the one-pass decoder to it.
func DecodePieces(body []byte, lim Limits) (*Batch, error) { return decodePieces(body, lim) }

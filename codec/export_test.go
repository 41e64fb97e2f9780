package codec

// Internals for the external tests.
const (
	HeaderLen  = headerLen
	MetaOff    = metaOff
	TrailerLen = trailerLen
)

// SealHeader recomputes the header check of an encoding in place, so that
// fuzz inputs and tests can alter the table or meta and reach the checks
// behind the CRC.
func SealHeader(b []byte) {
	if len(b) >= headerLen {
		le.PutUint32(b[offCheck:], headerCheck(b))
	}
}

package channels

import "time"

// FaxDocument is a received fax as a file, whichever way it arrived: the
// fax inbox (Asterisk ReceiveFAX), `hotline fax ingest` (HylaFAX), or a fax
// provider's e-mail, which the mail channel hands to the fax channel.
type FaxDocument struct {
	// ExternalID makes ingestion idempotent: the file's sha256 for the
	// inbox and the CLI, the Message-ID and part for mail.
	ExternalID string
	// Source is "inbox", "ingest" or "mail".
	Source string
	// Caller is the sender's number as received; StationID the sending
	// machine's TSI.
	Caller    string
	StationID string
	// Status is SUCCESS or FAILURE, as Asterisk's FAXSTATUS; Error says
	// why a fax failed. Pages is what the sender reported (0: unknown).
	Status     string
	Error      string
	Pages      int
	ReceivedAt time.Time
	// Name, ContentType and Data are the file itself: TIFF, or PDF from
	// some providers.
	Name        string
	ContentType string
	Data        []byte
	Metadata    map[string]string
}

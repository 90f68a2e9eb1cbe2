package ticketing

import "time"

// SIPBinding is one registered contact of an agent's softphone (RFC 3261
// §10): the address-of-record (the agent's sip_user), the Contact URI calls
// are sent to, and where the REGISTER came from. Bindings live in the store
// so that every gateway instance behind one load balancer can ring every
// registered phone.
type SIPBinding struct {
	AOR       string // the agent's sip_user
	Contact   string // the Contact URI, e.g. sip:zhang@192.0.2.7:5062;transport=udp
	Source    string // host:port the REGISTER came from (where calls go over UDP)
	Transport string // UDP or TCP
	CallID    string // of the REGISTER, with CSeq: stale refreshes are ignored
	CSeq      uint32
	ExpiresAt time.Time
	UpdatedAt time.Time
	Instance  string // the gateway instance that took the REGISTER
}

// SIPBindingSaveParams changes the bindings of one AOR in one transaction,
// as one REGISTER does: contacts to add or refresh, contacts to remove
// (Expires: 0), or every contact of the AOR (Contact: *).
type SIPBindingSaveParams struct {
	AOR       string
	Set       []SIPBinding
	Remove    []string // contact URIs
	RemoveAll bool
	// Now drops every expired binding (of any AOR) and bounds the result.
	Now time.Time
}

// SIPAuthFailureParams records one failed digest authentication from a
// source address. Failures are counted in a window that starts with the
// first one; the Limit-th failure in the window locks the source out until
// At+LockFor.
type SIPAuthFailureParams struct {
	Source  string // IP address
	At      time.Time
	Window  time.Duration
	Limit   int
	LockFor time.Duration
}

// SIPLockout is a source address locked out after repeated failed
// authentications (SIP scanners).
type SIPLockout struct {
	Source      string
	Failures    int
	LockedUntil time.Time
}

package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// Links signs and checks the customer's confirmation links
// (GET /confirm/{token}). A token names the ticket and the resolution it
// confirms (its resolved_at), and expires; it carries an HMAC-SHA256 under
// the desk's secret, which every instance shares through the store. It
// works once: confirming closes the ticket, and a ticket resolved again
// has another resolved_at.
type Links struct {
	key []byte
	ttl time.Duration
}

func NewLinks(key []byte, ttl time.Duration) *Links { return &Links{key: key, ttl: ttl} }

// Link errors.
var (
	ErrBadLink     = errors.New("this confirmation link is not valid")
	ErrExpiredLink = errors.New("this confirmation link has expired")
)

// Token makes the token for a ticket's resolution, valid ttl from now.
func (l *Links) Token(ticketID int64, resolvedAt, now time.Time) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[0:], uint64(ticketID))
	binary.BigEndian.PutUint64(b[8:], uint64(resolvedAt.UnixMicro()))
	binary.BigEndian.PutUint64(b[16:], uint64(now.Add(l.ttl).Unix()))
	return enc.EncodeToString(b[:]) + "." + enc.EncodeToString(l.mac(b[:]))
}

// enc is strict when decoding: the unused low bits of a part's last
// character must be zero, so that a token has one spelling and a changed
// character never passes.
var enc = base64.RawURLEncoding.Strict()

func (l *Links) mac(b []byte) []byte {
	h := hmac.New(sha256.New, l.key)
	h.Write([]byte("hotline-confirm\x00"))
	h.Write(b)
	return h.Sum(nil)[:16]
}

// Check verifies a token and returns the ticket and resolution it names.
func (l *Links) Check(token string, now time.Time) (ticketID int64, resolvedAt time.Time, err error) {
	body, sig, ok := strings.Cut(token, ".")
	b, err1 := enc.DecodeString(body)
	s, err2 := enc.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || len(b) != 24 || !hmac.Equal(s, l.mac(b)) {
		return 0, time.Time{}, ErrBadLink
	}
	if now.Unix() > int64(binary.BigEndian.Uint64(b[16:])) {
		return 0, time.Time{}, ErrExpiredLink
	}
	return int64(binary.BigEndian.Uint64(b[0:])), time.UnixMicro(int64(binary.BigEndian.Uint64(b[8:]))).UTC(), nil
}

package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// nonceLife is how long a challenge's nonce is good for; a later answer is
// told the nonce is stale, and the phone answers the new one at once
// without asking its user.
const nonceLife = 5 * time.Minute

// digestAuth is server-side HTTP digest authentication for SIP (RFC 3261
// §22, RFC 2617, RFC 7616 with MD5 and SHA-256). Nonces carry their own
// issue time and an HMAC over it, so nothing is stored per challenge, and an
// instance can check only its own nonces (a stale answer to another's is
// re-challenged).
type digestAuth struct {
	realm  string
	secret [32]byte
	now    func() time.Time
}

func newDigestAuth(realm string) *digestAuth {
	d := &digestAuth{realm: realm, now: time.Now}
	if _, err := rand.Read(d.secret[:]); err != nil {
		// crypto/rand does not fail on the systems Go supports.
		panic(fmt.Sprintf("sip: no randomness for nonces: %v", err))
	}
	return d
}

// challenge is the WWW-Authenticate value for a new nonce.
func (d *digestAuth) challenge(stale bool) string {
	c := digest.Challenge{Realm: d.realm, Nonce: d.nonce(d.now()), Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	return c.String()
}

func (d *digestAuth) nonce(at time.Time) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.UnixNano()))
	m := hmac.New(sha256.New, d.secret[:])
	m.Write(b[:8])
	copy(b[8:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Why an authorization was refused.
var (
	errNoCredentials = errors.New("no credentials")
	errStaleNonce    = errors.New("stale nonce")
	errBadNonce      = errors.New("nonce not ours")
	errBadUser       = errors.New("credentials for another user")
	errBadRealm      = errors.New("credentials for another realm")
	errBadResponse   = errors.New("wrong password")
	errMalformed     = errors.New("malformed credentials")
)

// verify checks an Authorization header value for the request method and
// the expected user with password. errStaleNonce and errNoCredentials are
// not failures of the user: the phone is challenged again without counting.
func (d *digestAuth) verify(header, method, user, password string) error {
	if strings.TrimSpace(header) == "" {
		return errNoCredentials
	}
	cred, err := digest.ParseCredentials(header)
	if err != nil {
		return fmt.Errorf("%w: %v", errMalformed, err)
	}
	if cred.Realm != d.realm {
		return errBadRealm
	}
	if err := d.checkNonce(cred.Nonce); err != nil {
		return err
	}
	if cred.Username != user {
		return errBadUser
	}
	chal := &digest.Challenge{Realm: d.realm, Nonce: cred.Nonce, Opaque: cred.Opaque, Algorithm: cred.Algorithm}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	if !digest.CanDigest(chal) {
		return fmt.Errorf("%w: algorithm %q or qop %q", errMalformed, cred.Algorithm, cred.QOP)
	}
	want, err := digest.Digest(chal, digest.Options{
		Method: method, URI: cred.URI, Username: user, Password: password, Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", errMalformed, err)
	}
	if subtle.ConstantTimeCompare([]byte(want.Response), []byte(strings.ToLower(cred.Response))) != 1 {
		return errBadResponse
	}
	return nil
}

// credentialsUser is the user name an Authorization value claims, or "".
func credentialsUser(header string) string {
	cred, err := digest.ParseCredentials(header)
	if err != nil {
		return ""
	}
	return cred.Username
}

func (d *digestAuth) checkNonce(n string) error {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != 24 {
		return errBadNonce
	}
	m := hmac.New(sha256.New, d.secret[:])
	m.Write(b[:8])
	if !hmac.Equal(m.Sum(nil)[:16], b[8:]) {
		// Issued by another instance, or forged: a fresh challenge settles
		// the first, and the second cannot pass it.
		return errStaleNonce
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	if age := d.now().Sub(issued); age < -time.Minute || age > nonceLife {
		return errStaleNonce
	}
	return nil
}

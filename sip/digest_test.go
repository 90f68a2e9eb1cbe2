package sip

import (
	"errors"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// answer is what a softphone sends back to a challenge.
func answer(t *testing.T, challenge, method, uri, user, password string) string {
	t.Helper()
	c, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(c, digest.Options{Method: method, URI: uri, Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func TestDigest(t *testing.T) {
	d := newDigestAuth("hotline")
	ch := d.challenge(false)
	ok := answer(t, ch, "REGISTER", "sip:127.0.0.1", "zhang", "s3cret")
	if err := d.verify(ok, "REGISTER", "zhang", "s3cret"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, c := range []struct {
		name, header, method, user, password string
		want                                 error
	}{
		{"no credentials", "", "REGISTER", "zhang", "s3cret", errNoCredentials},
		{"wrong password", answer(t, ch, "REGISTER", "sip:127.0.0.1", "zhang", "guess"), "REGISTER", "zhang", "s3cret", errBadResponse},
		{"another user's credentials", answer(t, ch, "REGISTER", "sip:127.0.0.1", "li", "s3cret"), "REGISTER", "zhang", "s3cret", errBadUser},
		{"another method", ok, "INVITE", "zhang", "s3cret", errBadResponse},
		{"garbage", "Digest nonsense", "REGISTER", "zhang", "s3cret", errMalformed},
	} {
		if err := d.verify(c.header, c.method, c.user, c.password); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A nonce from another instance (another secret) is stale, not a
	// failure: the phone is challenged again.
	other := newDigestAuth("hotline")
	foreign := answer(t, other.challenge(false), "REGISTER", "sip:127.0.0.1", "zhang", "s3cret")
	if err := d.verify(foreign, "REGISTER", "zhang", "s3cret"); !errors.Is(err, errStaleNonce) {
		t.Errorf("foreign nonce: %v", err)
	}
	// Another realm.
	r := newDigestAuth("elsewhere")
	if err := d.verify(answer(t, r.challenge(false), "REGISTER", "sip:h", "zhang", "s3cret"), "REGISTER", "zhang", "s3cret"); !errors.Is(err, errBadRealm) {
		t.Errorf("other realm: %v", err)
	}
	// An old nonce is stale.
	d.now = func() time.Time { return time.Now().Add(nonceLife + time.Minute) }
	if err := d.verify(ok, "REGISTER", "zhang", "s3cret"); !errors.Is(err, errStaleNonce) {
		t.Errorf("old nonce: %v", err)
	}
}

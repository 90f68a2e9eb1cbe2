package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/internal/testenv"
	"github.com/hotline-desk/hotline/mail"
	"github.com/hotline-desk/hotline/mail/outbox"
)

// swaks runs the swaks SMTP client against the server and returns its
// transcript.
func swaks(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := testenv.Command(t, "swaks")
	cmd := exec.Command(bin, append([]string{"--timeout", "20"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSwaksGB2312: swaks, a real SMTP client, delivers a GB2312 mail with
// GBK-only characters; it becomes a readable ticket.
func TestSwaksGB2312(t *testing.T) {
	h := newHarness(t)
	host, port, _ := net.SplitHostPort(h.addr)
	file := filepath.Join(t.TempDir(), "mail.eml")
	if err := os.WriteFile(file, []byte(gb2312Mail(t, msgID(1), "zhang.san@example.cn")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := swaks(t, "--server", host, "--port", port, "--from", "zhang.san@example.cn", "--to", desk, "--data", file)
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if !strings.Contains(out, "<-  250 2.0.0 OK") {
		t.Fatalf("no 250 after DATA:\n%s", out)
	}
	ts := h.tickets()
	if len(ts) != 1 || ts[0].Subject != gbkSubject {
		t.Fatalf("tickets %+v, want one with subject %q", ts, gbkSubject)
	}
	// And a foreign recipient is refused to swaks too.
	out, err = swaks(t, "--server", host, "--port", port, "--from", "a@example.cn", "--to", "victim@elsewhere.example.org")
	if err == nil || !strings.Contains(out, "<** 550 5.1.1") {
		t.Fatalf("relay attempt: err %v\n%s", err, out)
	}
}

// TestSwaksStartTLSAuth: with a certificate and users configured, swaks
// upgrades with STARTTLS and authenticates; a wrong password gets 535, and
// with require_auth an unauthenticated sender gets 530.
func TestSwaksStartTLSAuth(t *testing.T) {
	cert := selfSigned(t)
	h := newHarness(t, func(c *mail.Config, _ *outbox.Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		c.Users = map[string]string{"mx": "s3cret"}
		c.RequireAuth = true
		c.Trusted = nil
	})
	host, port, _ := net.SplitHostPort(h.addr)
	base := []string{"--server", host, "--port", port, "--from", "a@example.cn", "--to", desk,
		"--header", "Subject: over TLS", "--body", "hello over TLS"}
	out, err := swaks(t, append(base, "--tls", "--auth", "PLAIN", "--auth-user", "mx", "--auth-password", "s3cret")...)
	if err != nil || !strings.Contains(out, "TLS started") || !strings.Contains(out, "235") {
		t.Fatalf("STARTTLS + AUTH: %v\n%s", err, out)
	}
	if ts := h.tickets(); len(ts) != 1 || ts[0].Subject != "over TLS" {
		t.Fatalf("tickets %+v", ts)
	}
	out, err = swaks(t, append(base, "--tls", "--auth", "PLAIN", "--auth-user", "mx", "--auth-password", "wrong")...)
	if err == nil || !strings.Contains(out, "535") {
		t.Fatalf("wrong password: %v\n%s", err, out)
	}
	out, err = swaks(t, append(base, "--tls")...)
	if err == nil || !strings.Contains(out, "530") {
		t.Fatalf("no auth with require_auth: %v\n%s", err, out)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "desk.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"desk.example.com"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

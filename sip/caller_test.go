package sip

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"
)

func parseRequest(t testing.TB, raw string) *sip.Request {
	t.Helper()
	msg, err := sip.ParseMessage([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		t.Fatalf("not a request: %T", msg)
	}
	return req
}

const inviteHead = `INVITE sip:4001160016@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1
To: <sip:4001160016@127.0.0.1>
Call-ID: c1@127.0.0.1
CSeq: 1 INVITE
Max-Forwards: 70
`

func TestIdentity(t *testing.T) {
	cases := []struct {
		name    string
		headers string
		want    Identity
	}{
		{"From with a UTF-8 name", `From: "张三" <sip:13800138000@carrier>;tag=a`,
			Identity{Name: "张三", Number: "+8613800138000", Raw: "13800138000", Source: "From"}},
		{"PAI wins over From", "From: <sip:anonymous@carrier>;tag=a\nP-Asserted-Identity: \"李四\" <sip:+8653255578279@carrier>",
			Identity{Name: "李四", Number: "+8653255578279", Raw: "+8653255578279", Source: hdrPAI, Withheld: true}},
		{"PAI with a tel URI and a sip URI", "From: <sip:x@carrier>;tag=a\nP-Asserted-Identity: <tel:+8613800138000>, \"王五\" <sip:+8613800138000@carrier>",
			Identity{Name: "王五", Number: "+8613800138000", Raw: "+8613800138000", Source: hdrPAI}},
		{"Privacy: id", "From: \"张三\" <sip:13800138000@carrier>;tag=a\nPrivacy: id",
			Identity{Name: "张三", Number: "+8613800138000", Raw: "13800138000", Source: "From", Withheld: true}},
		{"RPID with privacy=full", "From: <sip:c@carrier>;tag=a\nRemote-Party-ID: \"赵六\" <sip:010-12345678@carrier>;party=calling;privacy=full",
			Identity{Name: "赵六", Number: "+861012345678", Raw: "010-12345678", Source: hdrRPID, Withheld: true}},
		{"trunk 0 and Diversion", "From: <sip:053255578279@carrier>;tag=a\nDiversion: <sip:4001160016@carrier>;reason=unconditional",
			Identity{Number: "+8653255578279", Raw: "053255578279", Source: "From", Diversion: "+864001160016", DiversionReason: "unconditional"}},
		{"letters are no number", `From: "sipp" <sip:sipp@carrier>;tag=a`,
			Identity{Name: "sipp", Raw: "sipp", Source: "From"}},
		{"escaped quote in the name", `From: "Li \"Boss\"" <sip:13800138000@carrier>;tag=a`,
			Identity{Name: `Li \"Boss\"`, Number: "+8613800138000", Raw: "13800138000", Source: "From"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := identityOf(parseRequest(t, inviteHead+c.headers+"\nContent-Length: 0\n\n"))
			if got != c.want {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestEscapeNameRoundTrips(t *testing.T) {
	for _, name := range []string{"张三", `a "quoted" name`, `back\slash`, "tab\there", "慧海联创服务台"} {
		h := sip.FromHeader{DisplayName: escapeName(name), Address: sip.Uri{Scheme: "sip", User: "u", Host: "h"}}
		req := parseRequest(t, inviteHead+"From: "+h.Value()+";tag=x\nContent-Length: 0\n\n")
		got := identityOf(req).Name
		// The parser keeps the escapes; what matters is that the header
		// stays one header and the name survives.
		want := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(cleanName(name))
		if got != want {
			t.Errorf("%q: got %q, want %q", name, got, want)
		}
	}
}

func TestTrunkACL(t *testing.T) {
	tr, err := ParseTrunk("carrier", "192.0.2.1:5060", []string{"192.0.2.0/24", "198.51.100.7", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	trunks := []Trunk{tr}
	for src, want := range map[string]bool{
		"192.0.2.9:5060": true, "198.51.100.7:5060": true, "198.51.100.8:5060": false, "[2001:db8::1]:5060": true,
		"[::ffff:192.0.2.9]:5060": true, "10.0.0.1:5060": false, "garbage": false, "": false,
	} {
		if got := trunkFor(trunks, src) != nil; got != want {
			t.Errorf("%q: allowed %v, want %v", src, got, want)
		}
	}
	if _, err := ParseTrunk("x", "", []string{"not-an-address"}); err == nil {
		t.Error("a bad allow entry was accepted")
	}
}

// FuzzSIPMessage feeds arbitrary bytes through what the gateway does with
// a message before any routing: sipgo's parser, the caller's identity, the
// REGISTER's bindings and the digest check. None may panic; what they give
// must be safe to put on a ticket and into another message.
func FuzzSIPMessage(f *testing.F) {
	f.Add([]byte(inviteHead + "From: \"张三\" <sip:13800138000@carrier>;tag=a\nPrivacy: id\nContent-Length: 0\n\n"))
	f.Add([]byte(inviteHead + "From: <sip:x@y>;tag=a\nP-Asserted-Identity: <tel:+8613800138000>, \"王\" <sip:1@h>\nDiversion: <sip:4001160016@c>;reason=no-answer,<sip:1@2>\nContent-Length: 0\n\n"))
	f.Add([]byte("REGISTER sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 1.2.3.4:5;branch=z9hG4bK-2\nFrom: <sip:zhang@h>;tag=1\nTo: <sip:zhang@h>\nCall-ID: r\nCSeq: 2 REGISTER\nContact: <sip:zhang@1.2.3.4:5>;expires=60, <sip:zhang@5.6.7.8>\nExpires: 0\nAuthorization: Digest username=\"zhang\", realm=\"hotline\", nonce=\"AAAA\", uri=\"sip:127.0.0.1\", response=\"00\", qop=auth, nc=00000001, cnonce=\"x\"\nContent-Length: 0\n\n"))
	f.Add([]byte("REGISTER sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK-3\nFrom: <sip:a@h>;tag=1\nTo: <sip:a@h>\nCall-ID: r\nCSeq: 1 REGISTER\nContact: *\nExpires: 0\nContent-Length: 0\n\n"))
	s := &Server{cfg: Config{}, auth: newDigestAuth("hotline"), host: "127.0.0.1", port: 5060}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		id := identityOf(req)
		if !utf8.ValidString(id.Name) || strings.ContainsAny(id.Name, "\r\n\x00") || len([]rune(id.Name)) > maxName {
			t.Fatalf("unsafe display name %q", id.Name)
		}
		if id.Number != "" && (id.Number[0] != '+' || len(id.Number) > 16) {
			t.Fatalf("number %q is not E.164", id.Number)
		}
		// The name goes into the agent leg's From: it must stay one
		// header that parses back.
		h := sip.FromHeader{DisplayName: escapeName(id.Name), Address: sip.Uri{Scheme: "sip", User: "u", Host: "h"}}
		back := inviteHead + "From: " + h.Value() + ";tag=x\r\nContent-Length: 0\r\n\r\n"
		if _, err := sip.ParseMessage([]byte(strings.ReplaceAll(back, "\n", "\r\n"))); err != nil {
			t.Fatalf("the escaped name %q breaks the From header: %v", id.Name, err)
		}
		if req.Method == sip.REGISTER && req.To() != nil {
			s.bindingChange(req, req.To().Address.User)
		}
		if h := req.GetHeader("Proxy-Authorization"); h != nil {
			credentialsUser(h.Value())
		}
		if h := req.GetHeader("Authorization"); h != nil {
			if err := s.auth.verify(h.Value(), string(req.Method), "zhang", "secret"); err == nil {
				t.Fatalf("a fuzzed Authorization passed: %q", h.Value())
			}
		}
	})
}

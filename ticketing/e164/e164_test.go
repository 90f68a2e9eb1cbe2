package e164

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		e164 string
		ext  string
	}{
		// One landline, every form a carrier or a person sends.
		{"0532-55578279", "+8653255578279", ""},
		{"+8653255578279", "+8653255578279", ""},
		{"008653255578279", "+8653255578279", ""},
		{"053255578279", "+8653255578279", ""},
		{"53255578279", "+8653255578279", ""},
		{"8653255578279", "+8653255578279", ""},
		{"(0532) 5557 8279", "+8653255578279", ""},
		{"0532 5557 8279", "+8653255578279", ""},
		{"0532.5557.8279", "+8653255578279", ""},
		{"+86 (0)532 5557 8279", "+8653255578279", ""},
		{"+86-532-55578279", "+8653255578279", ""},
		{"0086 0532 55578279", "+8653255578279", ""},
		{"86-0532-55578279", "+8653255578279", ""},
		{"（０５３２）５５５７８２７９", "+8653255578279", ""},
		{"０５３２－５５５７８２７９", "+8653255578279", ""},
		{"0532—55578279", "+8653255578279", ""},
		{"  0532-55578279\t", "+8653255578279", ""},

		// One mobile, every form.
		{"13800138000", "+8613800138000", ""},
		{"138 0013 8000", "+8613800138000", ""},
		{"138-0013-8000", "+8613800138000", ""},
		{"+86 13800138000", "+8613800138000", ""},
		{"+86 138 0013 8000", "+8613800138000", ""},
		{"8613800138000", "+8613800138000", ""},
		{"86 13800138000", "+8613800138000", ""},
		{"0086-138-0013-8000", "+8613800138000", ""},
		{"008613800138000", "+8613800138000", ""},
		{"013800138000", "+8613800138000", ""},
		{"+86 0 13800138000", "+8613800138000", ""},
		{"＋８６　１３８００１３８０００", "+8613800138000", ""},
		{"+86 199 1234 5678", "+8619912345678", ""},
		{"14712345678", "+8614712345678", ""},

		// Other landlines: 2-digit area codes, 7-digit subscribers.
		{"010-12345678", "+861012345678", ""},
		{"01012345678", "+861012345678", ""},
		{"1012345678", "+861012345678", ""},
		{"+86 10 1234 5678", "+861012345678", ""},
		{"021-6123 4567", "+862161234567", ""},
		{"020-83123456", "+862083123456", ""},
		{"0755-86013388", "+8675586013388", ""},
		{"0571-8765432", "+865718765432", ""},
		{"5718765432", "+865718765432", ""},
		{"0898-66123456", "+8689866123456", ""},
		{"0951-5012345", "+869515012345", ""},

		// Service numbers.
		{"4001160016", "+864001160016", ""},
		{"400-116-0016", "+864001160016", ""},
		{"400 116 0016", "+864001160016", ""},
		{"+86 400 116 0016", "+864001160016", ""},
		{"864001160016", "+864001160016", ""},
		{"04001160016", "+864001160016", ""},
		{"800-820-8820", "+868008208820", ""},
		{"10086", "+8610086", ""},
		{"12345", "+8612345", ""},
		{"95588", "+8695588", ""},
		{"96110", "+8696110", ""},
		{"955888", "+86955888", ""},
		{"+86 10086", "+8610086", ""},
		{"0086 95588", "+8695588", ""},

		// Foreign numbers keep their country code.
		{"+15551234567", "+15551234567", ""},
		{"+1 (555) 123-4567", "+15551234567", ""},
		{"001 555 123 4567", "+15551234567", ""},
		{"00852 2123 4567", "+85221234567", ""},
		{"+852 2123 4567", "+85221234567", ""},
		{"+44 20 7946 0958", "+442079460958", ""},
		{"+81-3-1234-5678", "+81312345678", ""},
		{"+1234567", "+1234567", ""},
		{"+123456789012345", "+123456789012345", ""},

		// URIs.
		{"tel:+86-532-5557-8279", "+8653255578279", ""},
		{"TEL:+8613800138000", "+8613800138000", ""},
		{"sip:+8613800138000@10.0.0.1", "+8613800138000", ""},
		{"sip:013800138000@carrier.example;transport=udp", "+8613800138000", ""},
		{"sips:8653255578279@sbc.example:5061;user=phone", "+8653255578279", ""},
		{"sip:053255578279:secret@pbx", "+8653255578279", ""},
		{"sip:%2B8613800138000@host", "+8613800138000", ""},
		{"sip:13800138000@host?Subject=hi", "+8613800138000", ""},
		{`"张三" <sip:+8613800138000@10.0.0.1>`, "+8613800138000", ""},
		{"<tel:4001160016>", "+864001160016", ""},
		{"13800138000@10.0.0.1", "+8613800138000", ""},
		{"tel:55578279;phone-context=+86-532", "+8653255578279", ""},
		{"tel:+8653255578279;isub=1;npdi", "", ""}, // "npdi" has no '='
		{"tel:+8653255578279;npdi=yes", "+8653255578279", ""},

		// Extensions.
		{"0532-55578279-801", "+8653255578279", "801"},
		{"0532-55578279 ext 801", "+8653255578279", "801"},
		{"0532-55578279 EXT. 801", "+8653255578279", "801"},
		{"0532-55578279 ext:801", "+8653255578279", "801"},
		{"0532-55578279 extn 801", "+8653255578279", "801"},
		{"0532-55578279x801", "+8653255578279", "801"},
		{"0532-55578279 X 801", "+8653255578279", "801"},
		{"0532-55578279;ext=801", "+8653255578279", "801"},
		{"0532-55578279,801", "+8653255578279", "801"},
		{"0532-55578279，801", "+8653255578279", "801"},
		{"0532-55578279转801", "+8653255578279", "801"},
		{"0532-55578279 转 801", "+8653255578279", "801"},
		{"0532-55578279分机801", "+8653255578279", "801"},
		{"+8653255578279;ext=801", "+8653255578279", "801"},
		{"tel:+86-532-5557-8279;ext=801", "+8653255578279", "801"},
		{"sip:+8653255578279;ext=801@pbx.example", "+8653255578279", "801"},
		{"010-12345678-1", "+861012345678", "1"},
		{"4001160016,2,3", "", ""}, // "2,3" is not an extension
		{"400-116-0016 转 2", "+864001160016", "2"},
		{"400-116-0016-2", "+864001160016", "2"},
		{"+86 10 1234 5678-1234", "+861012345678", "1234"},
		{"13800138000-801", "", ""}, // mobiles have no extensions
		{"10086-1", "", ""},         // nor do short numbers
		{"10000-00", "", ""},        // found by FuzzParse: 7 digits, a local number
		{"0532-55578279 ext 12-34", "+8653255578279", "1234"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.in)
		if tt.e164 == "" {
			if err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", tt.in, n)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if n.E164 != tt.e164 || n.Ext != tt.ext {
			t.Errorf("Parse(%q) = {%s %s}, want {%s %s}", tt.in, n.E164, n.Ext, tt.e164, tt.ext)
		}
		if got, err := Normalize(tt.in); err != nil || got != tt.e164 {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.e164)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		reason string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"sipp", "no digits"},
		{"anonymous", "no digits"},
		{"Anonymous", "no digits"},
		{"unknown", "no digits"},
		{"sip:anonymous@anonymous.invalid", "no digits"},
		{"sip:zhang@pbx.example", "no digits"},
		{"sip:pbx.example", "SIP URI without a user part"},
		{"zhang@example.com", "no digits"},
		{"abc123", "contains letters"},
		{"电话13800138000", "contains letters"},
		{"0532-55578279/80", "unexpected character '/'"},
		{"138*0013", "unexpected character '*'"},
		{"1380013800#", "unexpected character '#'"},
		{"138\x000013", "unexpected character '\\x00'"},
		{"\xff13800138000", "invalid UTF-8"},
		{"86+13800138000", "'+' not at the start"},
		{"++8613800138000", "'+' not at the start"},
		{"+", "no digits"},
		{"00", "no digits after the international prefix"},
		{"+0086 13800138000", "country code cannot start with 0"},
		{"+12345", "too short (5 digits)"},
		{"+1234567890123456", "too long (16 digits, E.164 allows 15)"},
		{"00123456789012345678", "too long (20 digits, E.164 allows 15)"},
		{"1234567890123456", "too long (16 digits, E.164 allows 15)"},
		{"110", "too short (3 digits)"},
		{"12", "too short (2 digits)"},
		{"123456", "too short (6 digits)"},
		{"55578279", "local number without an area code (ambiguous; give the area code or use ParseIn)"},
		{"5557827", "local number without an area code (ambiguous; give the area code or use ParseIn)"},
		{"101234567", "not a Chinese mobile, landline, 400/800 or service number"},
		{"12345678901", "not a Chinese mobile, landline, 400/800 or service number"},
		{"123456789012", "not a Chinese mobile, landline, 400/800 or service number"},
		{"8612345678", "not a Chinese mobile, landline, 400/800 or service number"},
		{"0532-555", "not a valid Chinese number after the trunk prefix 0"},
		{"0532-555782790", "not a valid Chinese number after the trunk prefix 0"},
		{"012345678", "not a valid Chinese number after the trunk prefix 0"},
		{"095588", "not a valid Chinese number after the trunk prefix 0"},
		{"+86 12345678", "not a valid Chinese number after country code 86"},
		{"+86 1380013800", "not a valid Chinese number after country code 86"},
		{"+86 138001380001", "not a valid Chinese number after country code 86"},
		{"0086 865 12345678", "not a valid Chinese number after country code 86"},
		{"0532-55578279 ext", `bad extension ""`},
		{"0532-55578279 ext 123456789", `bad extension " 123456789"`},
		{"0532-55578279 x 80a", `bad extension " 80a"`},
		{"0532-55578279;ext=", `bad extension ""`},
		{"0532-55578279;ext=1;ext=2", "two extensions"},
		{"0532-55578279 x1;ext=2", "two extensions"},
		{"0532-55578279;801", `unexpected ";801"`},
		{"tel:+8653255578279;isub=1;npdi", `unexpected ";npdi"`},
		{"sip:%zz@host", "bad percent-encoding"},
		{`"张三" <sip:+8613800138000@host`, "unclosed '<'"},
		{"138-0013-800", "not a Chinese mobile, landline, 400/800 or service number"},
		{strings.Repeat("1", 600), "too long (600 bytes)"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a *ParseError", tt.in, err)
			continue
		}
		if pe.Input != tt.in || pe.Reason != tt.reason {
			t.Errorf("Parse(%q): reason %q, want %q", tt.in, pe.Reason, tt.reason)
		}
		if _, err := Normalize(tt.in); !errors.As(err, &pe) {
			t.Errorf("Normalize(%q) = %v, want a *ParseError", tt.in, err)
		}
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := Normalize("sipp")
	if got, want := err.Error(), `e164: parse "sipp": no digits`; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	_, err = Normalize("55578279")
	if got, want := err.Error(), `e164: parse "55578279": local number without an area code (ambiguous; give the area code or use ParseIn)`; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	_, err = Normalize(strings.Repeat("a", 100))
	if got, want := err.Error(), `e164: parse "`+strings.Repeat("a", 64)+`…": no digits`; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

func TestParseIn(t *testing.T) {
	tests := []struct {
		in, area string
		e164     string
		ext      string
	}{
		{"55578279", "532", "+8653255578279", ""},
		{"5557-8279", "0532", "+8653255578279", ""},
		{"5557827", "532", "+865325557827", ""},
		{"12345678", "10", "+861012345678", ""},
		{"12345678", "010", "+861012345678", ""},
		{"10000-00", "532", "+865321000000", ""},
		{"55578279 ext 801", "532", "+8653255578279", "801"},
		{"55578279;ext=801", "532", "+8653255578279", "801"},
		// Numbers that are complete keep their own area code.
		{"021-61234567", "532", "+862161234567", ""},
		{"13800138000", "532", "+8613800138000", ""},
		{"95588", "532", "+8695588", ""},
		{"+15551234567", "532", "+15551234567", ""},
		// The dash-group extension never uses the default area code.
		{"138-0013-800", "532", "", ""},
		{"123456", "532", "", ""},
	}
	for _, tt := range tests {
		n, err := ParseIn(tt.in, tt.area)
		if tt.e164 == "" {
			if err == nil {
				t.Errorf("ParseIn(%q, %q) = %+v, want an error", tt.in, tt.area, n)
			}
			continue
		}
		if err != nil || n.E164 != tt.e164 || n.Ext != tt.ext {
			t.Errorf("ParseIn(%q, %q) = %+v, %v; want {%s %s}", tt.in, tt.area, n, err, tt.e164, tt.ext)
		}
	}

	for _, area := range []string{"", "1", "11", "400", "865", "0", "5321", "abc", "00532"} {
		_, err := ParseIn("55578279", area)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Input != area || pe.Reason != "not a Chinese area code" {
			t.Errorf("ParseIn(_, %q) = %v, want a bad area code error", area, err)
		}
	}
}

func TestNumberMethods(t *testing.T) {
	tests := []struct {
		in       string
		str      string
		national string
		mobile   bool
	}{
		{"0532-55578279-801", "+8653255578279;ext=801", "053255578279", false},
		{"13800138000", "+8613800138000", "13800138000", true},
		{"400-116-0016", "+864001160016", "4001160016", false},
		{"95588", "+8695588", "95588", false},
		{"010-12345678", "+861012345678", "01012345678", false},
		{"+1 555 123 4567", "+15551234567", "0015551234567", false},
	}
	for _, tt := range tests {
		n, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got := n.String(); got != tt.str {
			t.Errorf("%q.String() = %q, want %q", tt.in, got, tt.str)
		}
		if got := n.National(); got != tt.national {
			t.Errorf("%q.National() = %q, want %q", tt.in, got, tt.national)
		}
		if got := n.Mobile(); got != tt.mobile {
			t.Errorf("%q.Mobile() = %v, want %v", tt.in, got, tt.mobile)
		}
		back, err := Parse(n.String())
		if err != nil || back != n {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", n.String(), back, err, n)
		}
		back, err = Parse(n.National())
		if err != nil || back.E164 != n.E164 {
			t.Errorf("Parse(%q) = %+v, %v; want %s", n.National(), back, err, n.E164)
		}
	}
	if (Number{}).National() != "" {
		t.Error("zero Number has a national form")
	}
}

var e164Form = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
var extForm = regexp.MustCompile(`^[0-9]{0,8}$`)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0532-55578279", "+8653255578279", "008653255578279", "053255578279", "53255578279",
		"138 0013 8000", "+86 13800138000", "8613800138000", "0086-138-0013-8000", "013800138000",
		"010-12345678", "(0532) 5557 8279", "400-116-0016", "800-820-8820", "10086", "95588",
		"+15551234567", "001 555 123 4567", "0532-55578279-801", "0532-55578279 ext 801",
		"0532-55578279;ext=801", "0532-55578279,801", "0532-55578279转801",
		"sip:+8613800138000@10.0.0.1;transport=udp", "tel:+86-532-5557-8279;ext=801",
		`"张三" <sip:013800138000@carrier>`, "tel:55578279;phone-context=+86-532",
		"＋８６　１３８００１３８０００", "sipp", "anonymous", "", "55578279", "+86 (0)532 5557 8279",
		"sip:%2B86%31@h", "x", ";ext=1", "+0", "86", "0", "00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		check := func(name string, n Number, err error) {
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Reason == "" {
					t.Fatalf("%s(%q): error %v is not a *ParseError with a reason", name, raw, err)
				}
				return
			}
			if !e164Form.MatchString(n.E164) {
				t.Fatalf("%s(%q) = %q, not E.164", name, raw, n.E164)
			}
			if !extForm.MatchString(n.Ext) {
				t.Fatalf("%s(%q): extension %q", name, raw, n.Ext)
			}
			again, err := Normalize(n.E164)
			if err != nil || again != n.E164 {
				t.Fatalf("%s(%q) = %q, but Normalize(%q) = %q, %v", name, raw, n.E164, n.E164, again, err)
			}
			back, err := Parse(n.String())
			if err != nil || back != n {
				t.Fatalf("%s(%q) = %+v, but Parse(%q) = %+v, %v", name, raw, n, n.String(), back, err)
			}
			if nat := n.National(); nat != "" {
				if back, err := Parse(nat); err != nil || back.E164 != n.E164 {
					t.Fatalf("%s(%q) = %q, but Parse(National %q) = %+v, %v", name, raw, n.E164, nat, back, err)
				}
			}
		}
		n, err := Parse(raw)
		check("Parse", n, err)
		s, nerr := Normalize(raw)
		if (err == nil) != (nerr == nil) || s != n.E164 {
			t.Fatalf("Normalize(%q) = %q, %v; Parse = %+v, %v", raw, s, nerr, n, err)
		}
		n2, err := ParseIn(raw, "532")
		check("ParseIn", n2, err)
		if err == nil && n.E164 != "" && n2 != n {
			t.Fatalf("ParseIn(%q) = %+v, but Parse = %+v", raw, n2, n)
		}
	})
}

package sqlite

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/hotline-desk/hotline/ticketing"
)

// A mail is stored compressed and a photo as it is; both come back whole.
func TestBlobsAreStoredCompressedWhenThatPays(t *testing.T) {
	s := openTestStore(t)
	ctx := t.Context()
	mail := strings.Repeat("您好，VPN 连不上，请尽快处理。Regards, 张三\r\n", 200)
	photo := make([]byte, 8000)
	rand.Read(photo)
	files := []ticketing.AttachmentInput{ticketing.File("message.eml", "message/rfc822", []byte(mail)),
		ticketing.File("photo.jpg", "image/jpeg", photo)}
	tk := ticketing.Ticket{Channel: ticketing.ChannelEmail, Kind: ticketing.KindIncident, Priority: ticketing.P3,
		Status: ticketing.StatusNew, Tier: 1, Subject: "VPN"}
	if _, err := s.TicketCreate(ctx, &ticketing.TicketCreateParams{Prefix: "HL", Ticket: tk, Attachments: files}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f        ticketing.AttachmentInput
		encoding string
	}{{files[0], encodingZstd}, {files[1], ""}} {
		var encoding string
		var stored, size int
		if err := s.r.QueryRowContext(ctx, `SELECT encoding, length(data), size FROM blobs WHERE sha256 = ?`, c.f.SHA256).
			Scan(&encoding, &stored, &size); err != nil {
			t.Fatal(err)
		}
		if encoding != c.encoding || size != len(c.f.Data) {
			t.Errorf("%s: encoding %q, size %d; want %q, %d", c.f.Name, encoding, size, c.encoding, len(c.f.Data))
		}
		if encoding == encodingZstd && stored > len(c.f.Data)/4 {
			t.Errorf("%s: %d bytes stored for %d", c.f.Name, stored, len(c.f.Data))
		}
		var id int64
		if err := s.r.QueryRowContext(ctx, `SELECT id FROM attachments WHERE sha256 = ?`, c.f.SHA256).Scan(&id); err != nil {
			t.Fatal(err)
		}
		_, data, err := s.AttachmentGet(ctx, id)
		if err != nil || string(data) != string(c.f.Data) {
			t.Errorf("%s: %d bytes back, %v", c.f.Name, len(data), err)
		}
	}
}

package fax

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// tinyTIFF is a one-page TIFF with the given compression, photometric
// interpretation, fill order and one strip, for fuzz seeds that need no
// outside tool.
func tinyTIFF(width, height, compression, photometric, fillOrder, bps, spp int, strip []byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("II*\x00")
	binary.Write(&b, le, uint32(8+len(strip)))
	b.Write(strip)
	entries := [][3]uint32{{256, 4, uint32(width)}, {257, 4, uint32(height)}, {258, 3, uint32(bps)}, {259, 3, uint32(compression)},
		{262, 3, uint32(photometric)}, {266, 3, uint32(fillOrder)}, {273, 4, 8}, {277, 3, uint32(spp)}, {278, 4, uint32(height)},
		{279, 4, uint32(len(strip))}, {292, 4, 4}}
	writeIFD(&b, entries, false)
	return b.Bytes()
}

// FuzzConvert feeds the TIFF reader and the converter arbitrary bytes:
// they must never panic, hang or exceed their limits, and whatever they
// accept must come out as a PDF with a page per TIFF page.
func FuzzConvert(f *testing.F) {
	white := bytes.Repeat([]byte{0x00, 0x01, 0x4D, 0x9A}, 8) // EOL + 1728 white (MH), roughly
	f.Add(bombTIFF(3))
	f.Add(tinyTIFF(1728, 4, CompressionG3, 0, 1, 1, 1, white))
	f.Add(tinyTIFF(1728, 4, CompressionG3, 0, 2, 1, 1, white))
	f.Add(tinyTIFF(1728, 4, CompressionG4, 1, 1, 1, 1, []byte{0x00, 0x10, 0x01, 0x00, 0x10, 0x01}))
	f.Add(tinyTIFF(1728, 4, CompressionCCITTRLE, 0, 1, 1, 1, white))
	f.Add(tinyTIFF(16, 4, CompressionNone, 1, 1, 8, 1, make([]byte, 64)))
	f.Add(tinyTIFF(16, 4, CompressionPackBits, 2, 1, 8, 3, []byte{0x81, 0x7f, 0x81, 0x00}))
	f.Add(tinyTIFF(16, 4, CompressionLZW, 1, 1, 8, 1, []byte{0x80, 0x00, 0x00, 0x40}))
	f.Add(tinyTIFF(16, 4, CompressionDeflate, 3, 1, 4, 1, []byte{0x78, 0x9c, 0x03, 0x00}))
	f.Add(tinyTIFF(16, 4, CompressionJPEG, 1, 1, 8, 1, []byte{0xff, 0xd8, 0xff, 0xd9}))
	f.Add([]byte("%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n"))
	f.Add([]byte("MM\x00*\x00\x00\x00\x08\x00\x00"))
	// Real faxes when Ghostscript is there; the fuzzer mutates them best.
	if gs, err := exec.LookPath("gs"); err == nil {
		dir := f.TempDir()
		for _, dev := range []string{"tiffg3", "tiffg32d", "tiffg4"} {
			out := filepath.Join(dir, dev+".tif")
			if exec.Command(gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE="+dev, "-r204x98", "-g1728x200",
				"-sOutputFile="+out, filepath.Join("testdata", "fax.ps")).Run() == nil {
				if b, err := os.ReadFile(out); err == nil {
					f.Add(b)
				}
			}
		}
	}
	lim := Limits{MaxPages: 64, MaxWidth: 4864, MaxHeight: 8192, MaxStrips: 4096, MaxDecoded: 16 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		conv, err := Convert(data, lim)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a reason")
			}
			return
		}
		if !bytes.HasPrefix(conv.PDF, []byte("%PDF-")) && conv.Method != "pdf" {
			t.Fatalf("output is not a PDF: %q", conv.PDF[:min(len(conv.PDF), 16)])
		}
		if IsTIFF(data) {
			tf, err := ReadTIFF(data, lim)
			if err != nil || len(tf.Pages) != conv.Pages || conv.Pages < 1 {
				t.Fatalf("converted %d pages of a TIFF read as %v, %v", conv.Pages, tf, err)
			}
		}
	})
}

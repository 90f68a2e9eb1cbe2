package fax

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/hotline-desk/hotline/internal/testenv"
)

// gsTIFF makes a fax TIFF of testdata/fax.ps with Ghostscript, cached per
// test binary run by its arguments.
func gsTIFF(t testing.TB, device, res string, extra ...string) string {
	t.Helper()
	gs := testenv.Command(t, "gs")
	key := fmt.Sprint(device, res, extra)
	gsCache.Lock()
	defer gsCache.Unlock()
	if p, ok := gsCache.m[key]; ok {
		return p
	}
	if gsCache.dir == "" {
		d, err := os.MkdirTemp("", "hotline-fax-gs-")
		if err != nil {
			t.Fatal(err)
		}
		gsCache.dir = d
	}
	out := filepath.Join(gsCache.dir, fmt.Sprintf("%d-%s.tif", len(gsCache.m), device))
	args := append([]string{"-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=" + device, "-r" + res, "-sPAPERSIZE=a4"}, extra...)
	args = append(args, "-sOutputFile="+out, filepath.Join("testdata", "fax.ps"))
	if b, err := exec.Command(gs, args...).CombinedOutput(); err != nil {
		t.Fatalf("gs %v: %v\n%s", args, err, b)
	}
	gsCache.m[key] = out
	return out
}

var gsCache = struct {
	sync.Mutex
	dir string
	m   map[string]string
}{m: map[string]string{}}

// tiffcp recompresses a TIFF with libtiff's tiffcp.
func tiffcp(t testing.TB, in string, args ...string) string {
	t.Helper()
	bin := testenv.Command(t, "tiffcp")
	out := filepath.Join(t.TempDir(), "cp.tif")
	if b, err := exec.Command(bin, append(append(args, in), out)...).CombinedOutput(); err != nil {
		t.Fatalf("tiffcp %v: %v\n%s", args, err, b)
	}
	return out
}

// pdfInfo runs pdfinfo and returns its page count and first page size.
func pdfInfo(t testing.TB, pdf string) (pages int, w, h float64) {
	t.Helper()
	bin := testenv.Command(t, "pdfinfo")
	out, err := exec.Command(bin, pdf).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo %s: %v\n%s", pdf, err, out)
	}
	if bytes.Contains(out, []byte("Syntax Error")) || bytes.Contains(out, []byte("Syntax Warning")) {
		t.Errorf("pdfinfo complains about %s:\n%s", pdf, out)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(out)
	s := regexp.MustCompile(`(?m)^Page size:\s+([\d.]+) x ([\d.]+) pts`).FindSubmatch(out)
	if m == nil || s == nil {
		t.Fatalf("pdfinfo %s: no page count or size:\n%s", pdf, out)
	}
	pages, _ = strconv.Atoi(string(m[1]))
	w, _ = strconv.ParseFloat(string(s[1]), 64)
	h, _ = strconv.ParseFloat(string(s[2]), 64)
	return pages, w, h
}

// pdfPageSizes returns the size of every page, from pdfinfo -f -l.
func pdfPageSizes(t testing.TB, pdf string, pages int) [][2]float64 {
	t.Helper()
	bin := testenv.Command(t, "pdfinfo")
	out, err := exec.Command(bin, "-f", "1", "-l", strconv.Itoa(pages), pdf).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, out)
	}
	var sizes [][2]float64
	for _, m := range regexp.MustCompile(`(?m)^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts`).FindAllSubmatch(out, -1) {
		w, _ := strconv.ParseFloat(string(m[1]), 64)
		h, _ := strconv.ParseFloat(string(m[2]), 64)
		sizes = append(sizes, [2]float64{w, h})
	}
	return sizes
}

// gray is a rendered page: 8-bit gray pixels.
type gray struct {
	w, h int
	pix  []byte
}

// dark counts the pixels darker than mid-gray.
func (g gray) dark() int {
	n := 0
	for _, p := range g.pix {
		if p < 128 {
			n++
		}
	}
	return n
}

// renderPDF renders one page with pdftoppm to exactly w×h pixels: the
// page's image grid, whatever the page's size in points, so that two PDFs
// of one fax compare pixel for pixel.
func renderPDF(t testing.TB, pdf string, page, w, h int) gray {
	t.Helper()
	bin := testenv.Command(t, "pdftoppm")
	out, err := exec.Command(bin, "-gray", "-f", strconv.Itoa(page), "-l", strconv.Itoa(page),
		"-scale-to-x", strconv.Itoa(w), "-scale-to-y", strconv.Itoa(h), pdf).Output()
	if err != nil {
		t.Fatalf("pdftoppm %s page %d: %v", pdf, page, err)
	}
	return parsePGM(t, out)
}

func parsePGM(t testing.TB, b []byte) gray {
	t.Helper()
	// "P5" w h maxval, each followed by one whitespace byte.
	var fields []int
	i := 2
	for len(fields) < 3 && i < len(b) {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n') {
			i++
		}
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		v, err := strconv.Atoi(string(b[i:j]))
		if err != nil || string(b[:2]) != "P5" {
			t.Fatalf("not a PGM: %q", b[:min(len(b), 20)])
		}
		fields = append(fields, v)
		i = j
	}
	pix := b[i+1:]
	w, h := fields[0], fields[1]
	if len(pix) != w*h {
		t.Fatalf("PGM: %d bytes for %d×%d", len(pix), w, h)
	}
	return gray{w, h, pix}
}

// tiff2pdf converts with libtiff's tiff2pdf, the reference.
func tiff2pdf(t testing.TB, in string) string {
	t.Helper()
	bin := testenv.Command(t, "tiff2pdf")
	out := filepath.Join(t.TempDir(), "ref.pdf")
	if b, err := exec.Command(bin, "-o", out, in).CombinedOutput(); err != nil {
		t.Fatalf("tiff2pdf %s: %v\n%s", in, err, b)
	}
	return out
}

// bombTIFF builds a TIFF of n pages of 1728×1 pixels that all share one
// tiny G4 strip: small on disk, huge in pages.
func bombTIFF(n int) []byte {
	var b bytes.Buffer
	b.WriteString("II*\x00")
	binary.Write(&b, binary.LittleEndian, uint32(8+6)) // first IFD after the strip
	strip := []byte{0x00, 0x10, 0x01, 0x00, 0x10, 0x01}
	b.Write(strip)
	entries := [][3]uint32{{256, 3, 1728}, {257, 3, 1}, {259, 3, 4}, {262, 3, 0}, {273, 4, 8}, {278, 3, 1}, {279, 4, uint32(len(strip))}}
	for i := range n {
		writeIFD(&b, entries, i < n-1)
	}
	return b.Bytes()
}

// writeIFD appends a directory of one-value entries (tag, type, value) and
// the offset of the next one, right after it, or 0.
func writeIFD(b *bytes.Buffer, entries [][3]uint32, more bool) {
	le := binary.LittleEndian
	off := b.Len()
	binary.Write(b, le, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(b, le, uint16(e[0]))
		binary.Write(b, le, uint16(e[1]))
		binary.Write(b, le, uint32(1))
		if e[1] == 3 {
			binary.Write(b, le, uint16(e[2]))
			binary.Write(b, le, uint16(0))
		} else {
			binary.Write(b, le, e[2])
		}
	}
	next := uint32(0)
	if more {
		next = uint32(off + 2 + 12*len(entries) + 4)
	}
	binary.Write(b, le, next)
}

// deflateBomb is a TIFF of n gray pages of 16384×8192 pixels (128 MiB
// each) that share one Deflate strip of zeros: 130 KiB on disk.
func deflateBomb(n int) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	zero := make([]byte, 1<<20)
	for range 128 {
		zw.Write(zero)
	}
	zw.Close()
	var b bytes.Buffer
	b.WriteString("II*\x00")
	binary.Write(&b, binary.LittleEndian, uint32(8+z.Len()))
	b.Write(z.Bytes())
	entries := [][3]uint32{{256, 4, 16384}, {257, 4, 8192}, {258, 3, 8}, {259, 3, 8}, {262, 3, 1}, {273, 4, 8}, {278, 4, 8192}, {279, 4, uint32(z.Len())}}
	for i := range n {
		writeIFD(&b, entries, i < n-1)
	}
	return b.Bytes()
}

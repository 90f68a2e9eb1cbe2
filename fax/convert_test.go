package fax

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/internal/testenv"
)

const a4W, a4H = 595.276, 841.89

// checkAgainstTIFF2PDF converts in, checks the PDF with pdfinfo (page
// count, A4 within 2 %), and renders every page beside libtiff's tiff2pdf
// output: pixel for pixel the same when exact, else within tolerance (a
// mean absolute difference per pixel, for JPEG).
func checkAgainstTIFF2PDF(t *testing.T, in string, wantPages int, wantMethod string, tolerance float64) {
	t.Helper()
	checkAgainst(t, in, in, wantPages, wantMethod, tolerance)
}

// checkAgainst is checkAgainstTIFF2PDF with the reference made of another
// TIFF of the same image (for JPEG, which tiff2pdf cannot convert here).
func checkAgainst(t *testing.T, in, refTIFF string, wantPages int, wantMethod string, tolerance float64) {
	t.Helper()
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := Convert(data, DefaultLimits)
	if err != nil {
		t.Fatalf("convert %s: %v", in, err)
	}
	if conv.Pages != wantPages || conv.Method != wantMethod {
		t.Errorf("converted %d pages by %q, want %d by %q", conv.Pages, conv.Method, wantPages, wantMethod)
	}
	tf, err := ReadTIFF(data, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(t.TempDir(), "mine.pdf")
	if err := os.WriteFile(mine, conv.PDF, 0o644); err != nil {
		t.Fatal(err)
	}
	pages, _, _ := pdfInfo(t, mine)
	if pages != wantPages {
		t.Fatalf("pdfinfo: %d pages, want %d", pages, wantPages)
	}
	for i, s := range pdfPageSizes(t, mine, pages) {
		if math.Abs(s[0]/a4W-1) > 0.02 || math.Abs(s[1]/a4H-1) > 0.02 {
			t.Errorf("page %d is %.1f×%.1f pt, not A4 within 2 %%", i+1, s[0], s[1])
		}
	}
	ref := tiff2pdf(t, refTIFF)
	for i, p := range tf.Pages {
		// The page's pixel grid at 204 dpi: every column of the fax one
		// column of the rendering, the rows stretched to 204 dpi.
		w, h := p.Width, int(math.Round(float64(p.Height)*204/p.YRes))
		got := renderPDF(t, mine, i+1, w, h)
		want := renderPDF(t, ref, i+1, w, h)
		if want.dark() < w*h/200 {
			t.Fatalf("page %d: the reference rendering is nearly blank (%d dark pixels)", i+1, want.dark())
		}
		diff, sum := 0, 0
		for j := range got.pix {
			d := int(got.pix[j]) - int(want.pix[j])
			if d != 0 {
				diff++
				sum += max(d, -d)
			}
		}
		mean := float64(sum) / float64(len(got.pix))
		if (tolerance == 0 && diff > 0) || mean > tolerance {
			t.Errorf("page %d: %d of %d pixels differ from tiff2pdf's rendering (mean difference %.3f)", i+1, diff, len(got.pix), mean)
		}
	}
}

// TestSharedSamples converts every real fax TIFF of the shared corpus.
func TestSharedSamples(t *testing.T) {
	dir := testenv.Shared(t, "testdata/fax")
	files, err := filepath.Glob(filepath.Join(dir, "*.tif"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no TIFFs in %s: %v", dir, err)
	}
	for _, f := range files {
		pages := 1
		if strings.Contains(f, "-3p") {
			pages = 3
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			checkAgainstTIFF2PDF(t, f, pages, "ccitt", 0)
		})
	}
}

// TestGhostscriptFaxes makes faxes of every kind the channel must copy
// without decoding, and a few it must decode, and checks each one.
func TestGhostscriptFaxes(t *testing.T) {
	cases := []struct {
		name   string
		make   func(t *testing.T) string
		ref    func(t *testing.T) string // the reference's TIFF, when not the same
		method string
		tol    float64
	}{
		{"g3-1d-fill-std", func(t *testing.T) string { return gsTIFF(t, "tiffg3", "204x98") }, nil, "ccitt", 0},
		{"g3-1d-fill-fine", func(t *testing.T) string { return gsTIFF(t, "tiffg3", "204x196") }, nil, "ccitt", 0},
		{"g3-2d-std", func(t *testing.T) string { return gsTIFF(t, "tiffg32d", "204x98") }, nil, "ccitt", 0},
		{"g3-2d-fine", func(t *testing.T) string { return gsTIFF(t, "tiffg32d", "204x196") }, nil, "ccitt", 0},
		{"g4-std", func(t *testing.T) string { return gsTIFF(t, "tiffg4", "204x98") }, nil, "ccitt", 0},
		{"g4-fine", func(t *testing.T) string { return gsTIFF(t, "tiffg4", "204x196") }, nil, "ccitt", 0},
		{"mh-rle", func(t *testing.T) string { return gsTIFF(t, "tiffcrle", "204x196") }, nil, "ccitt", 0},
		{"g3-fillorder2", func(t *testing.T) string { return gsTIFF(t, "tiffg3", "204x98", "-dFillOrder=2") }, nil, "ccitt", 0},
		{"g4-fillorder2", func(t *testing.T) string { return gsTIFF(t, "tiffg4", "204x196", "-dFillOrder=2") }, nil, "ccitt", 0},
		{"g3-1d-no-fill", func(t *testing.T) string {
			return tiffcp(t, gsTIFF(t, "tiffg4", "204x98"), "-c", "g3:1d")
		}, nil, "ccitt", 0},
		{"g3-2d-fill-strips", func(t *testing.T) string {
			return tiffcp(t, gsTIFF(t, "tiffg4", "204x196"), "-c", "g3:2d:fill", "-r", "64")
		}, nil, "ccitt", 0},
		{"g4-strips", func(t *testing.T) string {
			return tiffcp(t, gsTIFF(t, "tiffg4", "204x196"), "-c", "g4", "-r", "128")
		}, nil, "decoded", 0},
		{"lzw-bilevel", func(t *testing.T) string {
			return tiffcp(t, gsTIFF(t, "tiffg4", "204x98"), "-c", "lzw")
		}, nil, "decoded", 0},
		{"uncompressed-bilevel", func(t *testing.T) string {
			return tiffcp(t, gsTIFF(t, "tiffg4", "204x98"), "-c", "none")
		}, nil, "decoded", 0},
		// Continuous-tone pages are resampled when drawn; the page sizes
		// differ from tiff2pdf's by 0.04 % (snapped to A4), so their
		// smoothing differs by a few levels.
		{"packbits-gray", func(t *testing.T) string {
			return tiffcp(t, gsTIFF(t, "tiffgray", "204x196"), "-c", "packbits")
		}, nil, "decoded", 3},
		{"deflate-predictor-gray", func(t *testing.T) string {
			return tiffcp(t, gsTIFF(t, "tiffgray", "204x196"), "-c", "zip:2", "-r", "100")
		}, nil, "decoded", 3},
		{"lzw-rgb", func(t *testing.T) string {
			return tiffcp(t, gsTIFF(t, "tiff24nc", "204x196"), "-c", "lzw")
		}, nil, "decoded", 3},
		{"jpeg-gray", func(t *testing.T) string {
			return tiffcp(t, gsTIFF(t, "tiffgray", "204x196"), "-c", "jpeg", "-r", "64")
		}, func(t *testing.T) string { return gsTIFF(t, "tiffgray", "204x196") }, "jpeg", 8}, // lossy: quality 75
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, ref := c.make(t), ""
			if c.ref != nil {
				ref = c.ref(t)
			} else {
				ref = in
			}
			checkAgainst(t, in, ref, 3, c.method, c.tol)
		})
	}
}

// TestBadInput: every kind of broken file fails with a reason that says
// what is wrong, without a panic, and within bounded memory.
func TestBadInput(t *testing.T) {
	good, err := os.ReadFile(gsTIFF(t, "tiffg4", "204x196"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrEmpty},
		{"not-tiff", []byte("Dear service desk, this is a letter, not a fax.\n"), ErrNotFax},
		{"tiff-header-only", []byte("II*\x00"), ErrNotTIFF},
		{"truncated", good[:len(good)/2], ErrTruncated},
		{"bad-version", []byte("II\x2b\x00\x08\x00\x00\x00\x00\x00"), ErrUnsupported},
		{"bomb-10000-pages", bombTIFF(10000), ErrTooLarge},
		{"truncated-pdf", []byte("%PDF-1.4\n1 0 obj\n<< /Type /Page >>\n"), ErrTruncated},
	}
	cases = append(cases, struct {
		name string
		data []byte
		want error
	}{"deflate-bomb-64-pages", deflateBomb(64), ErrTooLarge})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			defer func() {
				if d := time.Since(start); d > 15*time.Second {
					t.Errorf("took %v", d)
				}
			}()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Convert(c.data, DefaultLimits)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if err.Error() == "" {
				t.Fatal("empty reason")
			}
			limit := uint64(32 << 20)
			if strings.HasPrefix(c.name, "deflate-bomb") {
				limit = uint64(DefaultLimits.MaxDecoded) * 3 // the decoded pages and their buffers
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit {
				t.Errorf("allocated %d MiB on a %d-byte file", alloc>>20, len(c.data))
			}
			t.Logf("reason: %v", err)
		})
	}
}

// TestBombWithinLimit: the bomb is refused because of its page count, not
// by accident: the same file with fewer pages than the limit converts.
func TestBombWithinLimit(t *testing.T) {
	conv, err := Convert(bombTIFF(20), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if conv.Pages != 20 {
		t.Fatalf("%d pages, want 20", conv.Pages)
	}
}

func TestPageSize(t *testing.T) {
	cases := []struct {
		w, h       int
		xres, yres float64
		pw, ph     float64
	}{
		{1728, 1146, 204, 98, 595.2756, 841.8898},   // standard A4: snapped
		{1728, 2292, 204, 196, 595.2756, 841.8898},  // fine A4: snapped
		{1728, 1079, 204, 98, 612, 792},             // Letter
		{1728, 4000, 204, 196, 609.8824, 1469.3878}, // continuous paper: as it is
		{1000, 1000, 0, 0, 1000, 1000},              // no resolution, not a fax: 72 dpi
	}
	for _, c := range cases {
		w, h := pageSize(c.w, c.h, c.xres, c.yres)
		if math.Abs(w-c.pw) > 0.01 || math.Abs(h-c.ph) > 0.01 {
			t.Errorf("pageSize(%d×%d at %v×%v) = %.4f×%.4f, want %.4f×%.4f", c.w, c.h, c.xres, c.yres, w, h, c.pw, c.ph)
		}
	}
}

package fax

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"golang.org/x/image/ccitt"
)

// Conversion is a fax turned into PDF.
type Conversion struct {
	PDF   []byte
	Pages int
	// Method says how: "ccitt" (the CCITT data copied as it is),
	// "decoded" (another compression decoded and re-encoded), "jpeg"
	// (JPEG strips copied), "mixed", or "pdf" (the input was a PDF
	// already).
	Method string
}

// ErrNotFax is returned for a file that is neither TIFF nor PDF.
var ErrNotFax = errors.New("not a fax file (neither TIFF nor PDF)")

// Convert turns a received fax file into a PDF: a TIFF is converted page
// by page, a PDF is taken as it is (its pages counted). Errors wrap the
// package's Err* values and say what is wrong, for the ticket.
func Convert(data []byte, lim Limits) (Conversion, error) {
	switch {
	case len(data) == 0:
		return Conversion{}, ErrEmpty
	case IsTIFF(data):
		return ConvertTIFF(data, lim)
	case IsPDF(data):
		n, err := PDFPages(data)
		if err != nil {
			return Conversion{}, err
		}
		return Conversion{PDF: data, Pages: n, Method: "pdf"}, nil
	}
	if len(data) >= 2 && (string(data[:2]) == "II" || string(data[:2]) == "MM") {
		// Let the TIFF reader say what is wrong with the header.
		_, err := ReadTIFF(data, lim)
		return Conversion{}, err
	}
	return Conversion{}, fmt.Errorf("%w: it starts with %q", ErrNotFax, data[:min(len(data), 8)])
}

// ConvertTIFF converts every page of a TIFF into one PDF. CCITT pages (G3
// 1-D and 2-D, with or without fill bits, G4, either fill order, any
// number of strips) are copied into the PDF without being decoded; other
// compressions go through a decoding fallback.
func ConvertTIFF(data []byte, lim Limits) (Conversion, error) {
	t, err := ReadTIFF(data, lim)
	if err != nil {
		return Conversion{}, err
	}
	pages := make([]pdfPage, 0, len(t.Pages))
	methods := map[string]bool{}
	budget := &decodeBudget{left: lim.MaxDecoded}
	if budget.left <= 0 {
		budget.left = DefaultLimits.MaxDecoded
	}
	budget.limit = budget.left
	// Refuse at once a file whose pages claim more decoding than allowed,
	// rather than after decoding the first ones.
	var claimed int64
	for i := range t.Pages {
		if p := &t.Pages[i]; needsDecoding(p) {
			claimed += int64((p.Width*p.SamplesPerPixel*p.BitsPerSample+7)/8) * int64(p.Height)
		}
	}
	if claimed > budget.limit {
		return Conversion{}, fmt.Errorf("%w: its pages would decode to %d MiB, more than the %d MiB allowed for one fax",
			ErrTooLarge, claimed>>20, budget.limit>>20)
	}
	for i := range t.Pages {
		p, method, err := convertPage(&t.Pages[i], budget)
		if err != nil {
			return Conversion{}, fmt.Errorf("page %d: %w", i+1, err)
		}
		methods[method] = true
		pages = append(pages, p)
	}
	method := "mixed"
	if len(methods) == 1 {
		for m := range methods {
			method = m
		}
	}
	return Conversion{PDF: writePDF(pages), Pages: len(pages), Method: method}, nil
}

// needsDecoding reports whether a page goes through the decoding fallback.
func needsDecoding(p *Page) bool {
	switch p.Compression {
	case CompressionNone, CompressionLZW, CompressionDeflate, CompressionDeflate2, CompressionPackBits:
		return true
	case CompressionG4:
		return len(p.Strips) > 1
	}
	return false
}

func convertPage(p *Page, budget *decodeBudget) (pdfPage, string, error) {
	w, h := pageSize(p.Width, p.Height, p.XRes, p.YRes)
	out := pdfPage{width: w, height: h, pageRows: p.Height}
	var err error
	method := ""
	switch p.Compression {
	case CompressionCCITTRLE, CompressionG3, CompressionG4:
		out.images, err = ccittImages(p, budget)
		method = "ccitt"
		if p.Compression == CompressionG4 && len(p.Strips) > 1 {
			method = "decoded"
		}
	case CompressionJPEG:
		out.images, err = jpegImages(p)
		method = "jpeg"
	case CompressionNone, CompressionLZW, CompressionDeflate, CompressionDeflate2, CompressionPackBits:
		out.images, err = decodedImages(p, budget)
		method = "decoded"
	case CompressionOldJPEG:
		err = fmt.Errorf("%w: old-style JPEG (compression 6)", ErrUnsupported)
	default:
		err = fmt.Errorf("%w: compression %d", ErrUnsupported, p.Compression)
	}
	return out, method, err
}

// ccittImages gives the image(s) of a CCITT page. G3 strips are joined
// into one image: each coded row stands on its own (1-D) or each strip
// starts with a 1-D row (2-D), so the joined data decodes as one page. A
// G4 page of one strip is copied as it is; of several, see g4Strips.
func ccittImages(p *Page, budget *decodeBudget) ([]pdfImage, error) {
	if p.BitsPerSample != 1 || p.SamplesPerPixel != 1 {
		return nil, fmt.Errorf("%w: CCITT with %d samples of %d bits", ErrUnsupported, p.SamplesPerPixel, p.BitsPerSample)
	}
	c := ccittParams{columns: p.Width, rows: p.Height, blackIs1: p.Photometric == 1}
	switch p.Compression {
	case CompressionCCITTRLE:
		c.byteAlign = true
	case CompressionG3:
		if p.T4Options&2 != 0 {
			return nil, fmt.Errorf("%w: G3 with uncompressed mode", ErrUnsupported)
		}
		if p.T4Options&1 != 0 {
			// 2-D: the tag bit after each EOL says how the row is coded.
			c.k = p.Height
		}
		// Fill bits make every EOL end on a byte boundary, so every row
		// starts on one.
		c.byteAlign = p.T4Options&4 != 0
	case CompressionG4:
		c.k = -1
	}
	strips := p.Strips
	if p.FillOrder == 2 {
		strips = make([][]byte, len(p.Strips))
		for i, s := range p.Strips {
			strips[i] = reverseBits(s)
		}
	}
	if c.k >= 0 && len(strips) > 0 && p.Compression == CompressionG3 {
		c.endOfLine = startsWithEOL(strips[0])
	}
	if c.k >= 0 || len(strips) == 1 {
		data := strips[0]
		if len(strips) > 1 {
			data = bytes.Join(strips, nil)
		}
		return []pdfImage{ccittImage(p.Width, p.Height, c, data)}, nil
	}
	return g4Strips(p, strips, c, budget)
}

// g4Strips is the one CCITT case that is decoded: a G4 page of several
// strips. Each strip restarts from a white reference line, so the strips
// cannot be joined into one G4 image; and strips drawn as separate images
// do not render to the same pixels as one image (the joins fall between
// device pixels). The strips are decoded and the page written as one
// Flate-compressed bilevel image.
func g4Strips(p *Page, strips [][]byte, c ccittParams, budget *decodeBudget) ([]pdfImage, error) {
	rowBytes := (p.Width + 7) / 8
	if err := budget.take(int64(rowBytes) * int64(p.Height)); err != nil {
		return nil, err
	}
	raw := make([]byte, 0, rowBytes*p.Height)
	for i, s := range strips {
		rows := min(p.RowsPerStrip, p.Height-i*p.RowsPerStrip)
		if rows <= 0 {
			break
		}
		want := rows * rowBytes
		r := ccitt.NewReader(bytes.NewReader(s), ccitt.MSB, ccitt.Group4, p.Width, rows, nil)
		b := make([]byte, want)
		n, err := io.ReadFull(r, b)
		if err != nil && n == 0 {
			return nil, fmt.Errorf("%w: G4 strip %d: %v", ErrTruncated, i+1, err)
		}
		// A short strip (a fax cut off mid-page) leaves the rest white.
		for j := n; j < want; j++ {
			b[j] = 0xFF
		}
		raw = append(raw, b...)
	}
	decode := ""
	if c.blackIs1 {
		decode = " /Decode [1 0]"
	}
	dict := fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /BitsPerComponent 1 /ColorSpace /DeviceGray%s", p.Width, p.Height, decode)
	z, ok := deflateIfSmaller(raw)
	if !ok {
		return []pdfImage{{dict: dict, data: raw, rows: p.Height}}, nil
	}
	return []pdfImage{{dict: dict + " /Filter /FlateDecode", data: z, rows: p.Height}}, nil
}

// startsWithEOL reports whether G3 data begins with an EOL code (eleven or
// more zero bits, then a one). No Huffman code has that many zeros, so the
// data is either EOL-framed or not at all.
func startsWithEOL(data []byte) bool {
	zeros := 0
	for _, b := range data {
		if b == 0 {
			zeros += 8
			continue
		}
		for m := byte(0x80); m != 0 && b&m == 0; m >>= 1 {
			zeros++
		}
		break
	}
	return zeros >= 11
}

// IsPDF reports whether data starts like a PDF file.
func IsPDF(data []byte) bool {
	head := data[:min(len(data), 1024)]
	return bytes.Contains(head, []byte("%PDF-"))
}

var (
	pdfPageObj  = regexp.MustCompile(`/Type\s*/Page[^s]`)
	pdfPagesCnt = regexp.MustCompile(`/Type\s*/Pages\b[^>]*?/Count\s+(\d+)|/Count\s+(\d+)[^>]*?/Type\s*/Pages\b`)
)

// PDFPages counts the pages of a PDF a fax provider sent, without a full
// PDF parser: the page objects, or the largest page-tree count. It returns
// 0 when the PDF hides both in compressed object streams; the ticket then
// carries the count the sender reported.
func PDFPages(data []byte) (int, error) {
	if !bytes.Contains(data[max(0, len(data)-2048):], []byte("%%EOF")) {
		return 0, fmt.Errorf("%w: the PDF has no end-of-file marker", ErrTruncated)
	}
	if n := len(pdfPageObj.FindAllIndex(data, -1)); n > 0 {
		return n, nil
	}
	best := 0
	for _, m := range pdfPagesCnt.FindAllSubmatch(data, -1) {
		for _, g := range m[1:] {
			if n, err := strconv.Atoi(string(g)); err == nil && n > best {
				best = n
			}
		}
	}
	return best, nil
}

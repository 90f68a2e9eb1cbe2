package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/xuri/excelize/v2"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/hotline-desk/hotline/ticketing"
)

// Formats the report is written in.
var Formats = []string{"table", "csv", "json", "xlsx"}

// Write writes k in format.
func Write(w io.Writer, k *KPI, format string) error {
	switch format {
	case "table":
		return WriteTable(w, k)
	case "csv":
		return WriteCSV(w, k)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(k)
	case "xlsx":
		return WriteXLSX(w, k)
	}
	return fmt.Errorf("%w: format %q: want table, csv, json or xlsx", ticketing.ErrInvalid, format)
}

// line is one row of the summary: its Chinese and English names and value.
type line struct {
	zh, key, value string
}

func pct(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }

func secs(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

func (k *KPI) lines() []line {
	ls := []line{
		{"报表期间", "period", k.From + " .. " + k.To + " (" + k.Timezone + ")"},
		{"联系总数", "contacts", strconv.Itoa(k.Contacts)},
	}
	for _, c := range ticketing.Channels {
		ls = append(ls, line{"联系 " + string(c), "contacts_by_channel." + string(c), strconv.Itoa(k.ContactsByChannel[string(c)])})
	}
	ls = append(ls, line{"工单总数", "tickets", strconv.Itoa(k.Tickets)})
	for _, c := range ticketing.Channels {
		ls = append(ls, line{"渠道 " + string(c), "tickets_by_channel." + string(c), strconv.Itoa(k.TicketsByChannel[string(c)])})
	}
	for _, kd := range ticketing.Kinds {
		ls = append(ls, line{"类型 " + string(kd), "tickets_by_kind." + string(kd), strconv.Itoa(k.TicketsByKind[string(kd)])})
	}
	return append(ls,
		line{"录入完整性", "record_completeness", fmt.Sprintf("%s (%d/%d)", pct(k.RecordCompleteness), k.CompleteRecords, k.Tickets)},
		line{"响应达标率", "sla_response_compliance", fmt.Sprintf("%s (%d)", pct(k.SLAResponseCompliance), k.SLAResponseMeasured)},
		line{"解决达标率", "sla_resolve_compliance", fmt.Sprintf("%s (%d)", pct(k.SLAResolveCompliance), k.SLAResolveMeasured)},
		line{"一次解决率", "first_contact_resolution", fmt.Sprintf("%s (%d)", pct(k.FirstContactResolution), k.Resolved)},
		line{"响应时间中位数(秒)", "response_seconds_p50", secs(k.ResponseSecondsP50)},
		line{"响应时间P90(秒)", "response_seconds_p90", secs(k.ResponseSecondsP90)},
		line{"解决时间中位数(秒)", "resolve_seconds_p50", secs(k.ResolveSecondsP50)},
		line{"解决时间P90(秒)", "resolve_seconds_p90", secs(k.ResolveSecondsP90)},
		line{"来电", "calls", strconv.Itoa(k.Calls)},
		line{"放弃率", "abandoned_call_rate", pct(k.AbandonedCallRate)},
		line{"20秒接听率", "answered_within_20s", pct(k.AnsweredWithin20s)},
		line{"升级次数", "escalations", strconv.Itoa(k.Escalations)},
		line{"投诉", "complaints", strconv.Itoa(k.Complaints)},
	)
}

// WriteTable writes the report for a terminal.
func WriteTable(w io.Writer, k *KPI) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range k.lines() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.zh, l.key, l.value)
	}
	if len(k.Incomplete) > 0 {
		fmt.Fprintf(tw, "\n不完整记录\tincomplete_records\t%d\n", len(k.Incomplete))
		for _, in := range k.Incomplete {
			fmt.Fprintf(tw, "\t%s\t%v\n", in.Number, in.Missing)
		}
	}
	return tw.Flush()
}

// WriteCSV writes the summary as key,value rows, then the incomplete
// records, for spreadsheets and scripts.
func WriteCSV(w io.Writer, k *KPI) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"metric", "指标", "value"})
	for _, l := range k.lines() {
		cw.Write([]string{l.key, l.zh, l.value})
	}
	for _, in := range k.Incomplete {
		cw.Write([]string{"incomplete_record", in.Number, fmt.Sprint(in.Missing)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteXLSX writes a workbook: the summary, the daily volume and SLA
// trend, the incomplete records, and the chart.
func WriteXLSX(w io.Writer, k *KPI) error {
	f := excelize.NewFile()
	defer f.Close()
	const sum = "汇总"
	f.SetSheetName("Sheet1", sum)
	f.SetSheetRow(sum, "A1", &[]any{"指标", "metric", "value"})
	values := map[string]any{
		"tickets": k.Tickets, "contacts": k.Contacts, "record_completeness": k.RecordCompleteness, "sla_response_compliance": k.SLAResponseCompliance,
		"sla_resolve_compliance": k.SLAResolveCompliance, "first_contact_resolution": k.FirstContactResolution,
		"response_seconds_p50": k.ResponseSecondsP50, "response_seconds_p90": k.ResponseSecondsP90,
		"resolve_seconds_p50": k.ResolveSecondsP50, "resolve_seconds_p90": k.ResolveSecondsP90, "calls": k.Calls,
		"abandoned_call_rate": k.AbandonedCallRate, "answered_within_20s": k.AnsweredWithin20s,
		"escalations": k.Escalations, "complaints": k.Complaints,
	}
	row := 2
	for _, l := range k.lines() {
		v, ok := values[l.key]
		if !ok {
			v = l.value
			if n, err := strconv.Atoi(l.value); err == nil {
				v = n
			}
		}
		cell, _ := excelize.CoordinatesToCellName(1, row)
		f.SetSheetRow(sum, cell, &[]any{l.zh, l.key, v})
		row++
	}
	f.SetColWidth(sum, "A", "B", 28)
	const daily = "每日"
	f.NewSheet(daily)
	head := []any{"日期"}
	for _, c := range ticketing.Channels {
		head = append(head, string(c))
	}
	head = append(head, "合计", "响应达标率", "解决达标率")
	f.SetSheetRow(daily, "A1", &head)
	for i, d := range k.Daily {
		r := []any{d.Date}
		for _, c := range ticketing.Channels {
			r = append(r, d.ByChannel[string(c)])
		}
		r = append(r, d.Tickets, d.SLAResponseCompliance, d.SLAResolveCompliance)
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		f.SetSheetRow(daily, cell, &r)
	}
	const inc = "不完整记录"
	f.NewSheet(inc)
	f.SetSheetRow(inc, "A1", &[]any{"工单", "缺少"})
	for i, in := range k.Incomplete {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		f.SetSheetRow(inc, cell, &[]any{in.Number, fmt.Sprint(in.Missing)})
	}
	png, err := Chart(k)
	if err != nil {
		return err
	}
	const chart = "图表"
	f.NewSheet(chart)
	if err := f.AddPictureFromBytes(chart, "A1", &excelize.Picture{Extension: ".png", File: png, Format: &excelize.GraphicOptions{}}); err != nil {
		return fmt.Errorf("xlsx chart: %w", err)
	}
	_, err = f.WriteTo(w)
	return err
}

// Chart draws the daily ticket volume by channel (stacked bars) and the
// SLA compliance trend (lines, right axis as 0..100 %), as a PNG. Labels
// are English: the plotting fonts carry no Chinese glyphs.
func Chart(k *KPI) ([]byte, error) {
	vol := plot.New()
	vol.Title.Text = fmt.Sprintf("Tickets per day by channel, %s .. %s", k.From, k.To)
	vol.Y.Label.Text = "tickets"
	vol.Y.Min = 0
	names := make([]string, len(k.Daily))
	for i, d := range k.Daily {
		names[i] = d.Date[5:]
	}
	colors := []color.Color{color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff},
		color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}}
	width := vg.Points(max(4, min(20, 500/float64(max(len(k.Daily), 1)))))
	var below *plotter.BarChart
	for i, c := range ticketing.Channels {
		vals := make(plotter.Values, len(k.Daily))
		for j, d := range k.Daily {
			vals[j] = float64(d.ByChannel[string(c)])
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		bars.Color, bars.LineStyle.Width = colors[i], 0
		if below != nil {
			bars.StackOn(below)
		}
		below = bars
		vol.Add(bars)
		vol.Legend.Add(string(c), bars)
	}
	vol.Legend.Top = true
	peak := 1
	for _, d := range k.Daily {
		peak = max(peak, d.Tickets)
	}
	vol.Y.Max = float64(peak) * 1.3 // room for the legend above the bars
	vol.NominalX(names...)

	trend := plot.New()
	trend.Title.Text = "SLA compliance per day"
	trend.Y.Label.Text = "%"
	trend.Y.Min, trend.Y.Max = 0, 100
	for _, s := range []struct {
		name string
		get  func(Day) float64
		c    color.Color
	}{
		{"response", func(d Day) float64 { return d.SLAResponseCompliance }, colors[0]},
		{"resolve", func(d Day) float64 { return d.SLAResolveCompliance }, colors[1]},
	} {
		pts := make(plotter.XYs, len(k.Daily))
		for i, d := range k.Daily {
			pts[i] = plotter.XY{X: float64(i), Y: 100 * s.get(d)}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		l.Color, l.Width = s.c, vg.Points(1.5)
		trend.Add(l)
		trend.Legend.Add(s.name, l)
	}
	trend.NominalX(names...)
	trend.Legend.Top, trend.Legend.Left = false, true
	if len(names) > 16 {
		for _, p := range []*plot.Plot{vol, trend} {
			p.X.Tick.Label.Rotation = 1.2
			p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
		}
	}

	const w, h = 10 * vg.Inch, 7 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	canvases := plot.Align([][]*plot.Plot{{vol}, {trend}}, tiles, dc)
	vol.Draw(canvases[0][0])
	trend.Draw(canvases[1][0])
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	return buf.Bytes(), nil
}

package calendar

import (
	"fmt"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"
)

// China is the official table of China's public holidays and 调休
// working days, as published each year by the State Council, from
// github.com/6tail/lunar-go (which carries every year since 2002 and is
// updated when a new year's table is announced). A year the library does
// not know yet gives Ordinary days: the weekday rule, plus the config's
// own dates.
type China struct{}

// Official names the China table in config (calendars.NAME.public_holidays).
const Official = "cn"

func (China) Day(year int, month time.Month, day int) DayKind {
	h := HolidayUtil.GetHoliday(fmt.Sprintf("%04d%02d%02d", year, int(month), day))
	switch {
	case h == nil:
		return Ordinary
	case h.IsWork():
		return Workday
	default:
		return Holiday
	}
}

// HolidayName returns the holiday a day belongs to (国庆节, 春节…), or "".
func (China) HolidayName(year int, month time.Month, day int) string {
	if h := HolidayUtil.GetHoliday(fmt.Sprintf("%04d%02d%02d", year, int(month), day)); h != nil {
		return h.GetName()
	}
	return ""
}

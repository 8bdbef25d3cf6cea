#pragma once
// Calendar dates as decimal years (2024.5 is about 1 July 2024): the unit of every trend in the module,
// so that slopes read "per year". Parses ISO (2024-07-01), slashed ISO (2024/07/01) and day-first
// (1/7/2024, as some Epoch files write it).

#include <ward/core/error.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace ward::irt {

struct Date {
    int year = 0, month = 0, day = 0;
};

inline bool is_leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
inline int days_in_month(int y, int m) {
    static constexpr int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/// Days since 1970-01-01 (proleptic Gregorian; Howard Hinnant's days_from_civil).
inline long days_from_civil(Date d) {
    const int y = d.year - (d.month <= 2 ? 1 : 0);
    const long era = (y >= 0 ? y : y - 399) / 400;
    const long yoe = y - era * 400;
    const long doy = (153L * (d.month + (d.month > 2 ? -3 : 9)) + 2) / 5 + d.day - 1;
    const long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/// The decimal year of a date: year + (day of year) / (days in year).
inline double decimal_year(Date d) {
    const long start = days_from_civil({d.year, 1, 1});
    const double len = is_leap_year(d.year) ? 366.0 : 365.0;
    return d.year + static_cast<double>(days_from_civil(d) - start) / len;
}

/// Inverse of decimal_year, to the day.
inline Date date_from_decimal_year(double t) {
    Date d{static_cast<int>(std::floor(t)), 1, 1};
    const double len = is_leap_year(d.year) ? 366.0 : 365.0;
    long doy = static_cast<long>(std::floor((t - d.year) * len + 0.5));
    while (d.month < 12 && doy >= days_in_month(d.year, d.month)) doy -= days_in_month(d.year, d.month++);
    d.day = static_cast<int>(std::min<long>(doy + 1, days_in_month(d.year, d.month)));
    return d;
}

inline std::string format_date(Date d) {
    char buf[40];  // room for any three ints, so the output is never truncated
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
    return buf;
}
inline std::string format_decimal_year(double t) { return format_date(date_from_decimal_year(t)); }

/// Parses a date, or returns false (the callers decide whether that is an error or a counted drop).
/// Accepts YYYY-MM-DD, YYYY/MM/DD (either with an optional time after a space or 'T') and D/M/YYYY.
inline bool try_parse_date(std::string_view s, Date& out) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    if (const auto cut = s.find_first_of(" T"); cut != std::string_view::npos) s = s.substr(0, cut);
    int parts[3];
    int n = 0;
    char sep = 0;
    std::size_t i = 0;
    while (n < 3) {
        const auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), parts[n]);
        if (ec != std::errc()) return false;
        i = static_cast<std::size_t>(p - s.data());
        ++n;
        if (n == 3) break;
        if (i >= s.size() || (s[i] != '-' && s[i] != '/') || (sep && s[i] != sep)) return false;
        sep = s[i++];
    }
    if (i != s.size()) return false;
    Date d = parts[0] > 31 ? Date{parts[0], parts[1], parts[2]} : Date{parts[2], parts[1], parts[0]};
    if (d.year < 1000 || d.month < 1 || d.month > 12 || d.day < 1 || d.day > days_in_month(d.year, d.month))
        return false;
    out = d;
    return true;
}

/// Parses a date or throws value_error naming the text and where it came from.
inline Date parse_date(std::string_view s, const std::string& where = "") {
    Date d;
    if (!try_parse_date(s, d))
        throw value_error((where.empty() ? "" : where + ": ") + "expected a date (YYYY-MM-DD), found '" +
                          std::string(s) + "'");
    return d;
}

}  // namespace ward::irt

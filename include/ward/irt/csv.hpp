#pragma once
// A small RFC 4180 CSV reader: quoted fields, doubled quotes, newlines inside quotes, CRLF and a UTF-8
// byte-order mark. Every row remembers the line it started on, so that errors can name file:line:column.
//
// The readers of the irt module (long CSV, wide CSV, the Epoch layout) are built on it.

#include <ward/core/config.hpp>
#include <ward/core/error.hpp>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace ward::irt {

/// Where a cell came from, for error messages: "file:line:column".
struct CellLocation {
    std::string file;
    long line = 0;    // 1-based physical line on which the row starts
    long column = 0;  // 1-based field index
    std::string str() const { return file + ":" + std::to_string(line) + ":" + std::to_string(column); }
};

/// A parsed CSV file: the header and the rows, each row as many cells as the header (short rows are
/// padded with empty cells, long rows are an error).
struct CsvTable {
    std::string path;
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    std::vector<long> row_line;  // line on which rows[i] starts

    index_t size() const { return static_cast<index_t>(rows.size()); }

    /// Index of the column called `name`; throws parse_error naming the file and the columns it has.
    std::size_t column(std::string_view name) const {
        for (std::size_t j = 0; j < header.size(); ++j)
            if (header[j] == name) return j;
        std::string have;
        for (const auto& h : header) have += (have.empty() ? "'" : ", '") + h + "'";
        throw parse_error(path + ":1: missing column '" + std::string(name) + "' (columns are " + have + ")");
    }
    /// Like column(), but returns -1 when the column is absent (for optional columns).
    long find_column(std::string_view name) const {
        for (std::size_t j = 0; j < header.size(); ++j)
            if (header[j] == name) return static_cast<long>(j);
        return -1;
    }
    CellLocation where(index_t row, std::size_t col) const {
        return {path, row_line[static_cast<std::size_t>(row)], static_cast<long>(col) + 1};
    }
    const std::string& cell(index_t row, std::size_t col) const {
        return rows[static_cast<std::size_t>(row)][col];
    }
};

/// Trims ASCII white space at both ends.
inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

/// Parses CSV text. `name` is used in error messages.
inline CsvTable parse_csv(std::string_view text, const std::string& name) {
    CsvTable t;
    t.path = name;
    if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
        static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF)
        text.remove_prefix(3);

    std::vector<std::vector<std::string>> records;
    std::vector<long> record_line;
    std::vector<std::string> record;
    std::string field;
    long line = 1, record_start = 1;
    bool in_quotes = false, field_was_quoted = false, record_empty = true;
    auto end_field = [&] {
        record.push_back(field_was_quoted ? field : std::string(trim(field)));
        field.clear();
        field_was_quoted = false;
    };
    auto end_record = [&] {
        end_field();
        if (!(record.size() == 1 && record[0].empty() && record_empty)) {  // skip blank lines
            records.push_back(std::move(record));
            record_line.push_back(record_start);
        }
        record.clear();
        record_empty = true;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_quotes) {
            if (c == '"') {
                if (i + 1 < text.size() && text[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    in_quotes = false;
                }
            } else {
                if (c == '\n') ++line;
                field += c;
            }
            continue;
        }
        switch (c) {
            case '"':
                if (!trim(field).empty())
                    throw parse_error(name + ":" + std::to_string(line) + ":" + std::to_string(record.size() + 1) +
                                      ": quote inside an unquoted field");
                field.clear();
                in_quotes = field_was_quoted = true;
                record_empty = false;
                break;
            case ',': end_field(); record_empty = false; break;
            case '\r': break;
            case '\n':
                end_record();
                ++line;
                record_start = line;
                break;
            default: field += c; record_empty = false;
        }
    }
    if (in_quotes)
        throw parse_error(name + ":" + std::to_string(record_start) + ": unterminated quoted field");
    if (!field.empty() || !record.empty() || field_was_quoted) end_record();

    if (records.empty()) throw parse_error(name + ": empty file (no header line)");
    t.header = std::move(records[0]);
    for (auto& h : t.header) h = std::string(trim(h));
    for (std::size_t r = 1; r < records.size(); ++r) {
        auto& rec = records[r];
        if (rec.size() > t.header.size())
            throw parse_error(name + ":" + std::to_string(record_line[r]) + ": row has " +
                              std::to_string(rec.size()) + " fields, header has " + std::to_string(t.header.size()));
        rec.resize(t.header.size());
        t.rows.push_back(std::move(rec));
        t.row_line.push_back(record_line[r]);
    }
    return t;
}

/// Reads and parses a CSV file; throws io_error when it cannot be opened.
inline CsvTable read_csv(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error("cannot open CSV file '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_csv(ss.str(), path);
}

/// Parses a whole cell as a finite number; throws parse_error naming file:line:column otherwise.
/// With `allow_percent`, one trailing '%' is stripped (the number is *not* rescaled here).
inline double parse_number(std::string_view cell, const CellLocation& at, bool allow_percent = false) {
    std::string_view s = trim(cell);
    if (allow_percent && !s.empty() && s.back() == '%') s = trim(s.substr(0, s.size() - 1));
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    double v = 0.0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v))
        throw parse_error(at.str() + ": expected a number, found '" + std::string(cell) + "'");
    return v;
}

}  // namespace ward::irt

// safetensors: round trips of every dtype (strided, 0-d and empty inputs) checked against the
// byte layout the format prescribes; a fixture written by Python's reference implementation read
// back exactly; a file for Python to read; every malformed file rejected with a parse_error naming
// the file (and the tensor); wrong dtypes; and a save that fails part-way leaving the old file.
#include <boost/test/unit_test.hpp>

#include <ward/io/safetensors.hpp>
#include <ward/tensor.hpp>

#include <nlohmann/json.hpp>

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace ward;
using io::SafetensorsFile;
using io::SafetensorsWriter;
using io::StoredDtype;

namespace {

const fs::path fixtures = fs::path(__FILE__).parent_path() / "fixtures";

struct TempDir {
    fs::path path;
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "ward-st-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
void write_bytes(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out.write(s.data(), static_cast<std::streamsize>(s.size()));
}
std::string le64(std::uint64_t n) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    return s;
}
/// A hand-made file: length prefix (the true length unless overridden), header text, data bytes.
std::string raw_file(const std::string& header, const std::string& data, std::uint64_t length = UINT64_MAX) {
    return le64(length == UINT64_MAX ? header.size() : length) + header + data;
}
template <class T>
std::string bytes_of(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

/// Opens `contents` as a safetensors file and returns the parse_error's message (fails if none).
std::string parse_failure(const TempDir& dir, const std::string& contents, const std::string& name = "bad.safetensors") {
    fs::path p = dir.path / name;
    write_bytes(p, contents);
    try {
        SafetensorsFile f(p);
    } catch (const parse_error& e) {
        std::string msg = e.what();
        BOOST_TEST(msg.find(p.string()) != std::string::npos, "message names the file: " + msg);
        return msg;
    }
    BOOST_FAIL("expected parse_error for " + name);
    return {};
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(io_safetensors)

BOOST_AUTO_TEST_CASE(round_trip_of_every_dtype_with_the_prescribed_layout) {
    TempDir dir;
    // f32 written through a transpose: stored row-major as the transposed values.
    auto base = Tensor<float>::from_vector({0, 1, 2, 3, 4, 5}, Shape{2, 3});
    auto f32 = base.transpose();  // (3, 2): [[0, 3], [1, 4], [2, 5]]
    auto f64 = Tensor<double>::from_vector({0.1, -2.5, 1e-300, 7.0, 8.0, 9.0}, Shape{6}).slice(0, 0, 6, 2);  // 0.1, 1e-300, 8
    auto b16 = Tensor<bf16>::from_vector({bf16(1.0f), bf16(-2.0f), bf16(0.5f), bf16(384.0f)}, Shape{2, 2});
    auto i32 = Tensor<std::int32_t>::from_vector({1, -2, std::numeric_limits<std::int32_t>::max(),
                                                  std::numeric_limits<std::int32_t>::min()}, Shape{2, 2});
    auto i64 = Tensor<std::int64_t>::from_vector({(std::int64_t(1) << 53) + 1, -(std::int64_t(1) << 62)}, Shape{2});
    auto scalar = Tensor<float>::full(Shape{}, 7.25f);
    auto empty = Tensor<float>::empty(Shape{2, 0});

    SafetensorsWriter w;
    w.add("i64", i64).add("f64", f64).add("f32_transposed", f32).add("bf16", b16).add("i32", i32);
    w.add("scalar", scalar).add("empty", empty);
    w.add_metadata("writer", "ward").add_metadata("note", "round trip");
    fs::path p = dir.path / "all.safetensors";
    w.save(p);

    // The layout, checked with an independent JSON parse of the raw bytes.
    std::string bytes = read_bytes(p);
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    BOOST_TEST(n % 8 == 0u);
    std::string header = bytes.substr(8, n);
    BOOST_TEST(header.size() - (header.find_last_not_of(' ') + 1) < 8u);  // padded with fewer than 8 spaces
    auto j = nlohmann::json::parse(header);
    BOOST_TEST(j["__metadata__"] == (nlohmann::json{{"writer", "ward"}, {"note", "round trip"}}));
    std::vector<std::string> names = {"bf16", "empty", "f32_transposed", "f64", "i32", "i64", "scalar"};
    std::vector<std::pair<std::string, std::vector<int>>> expect = {
        {"BF16", {2, 2}}, {"F32", {2, 0}}, {"F32", {3, 2}}, {"F64", {3}}, {"I32", {2, 2}}, {"I64", {2}}, {"F32", {}}};
    std::vector<std::size_t> sizes = {8, 0, 24, 24, 16, 16, 4};
    std::size_t offset = 0;
    for (std::size_t i = 0; i < names.size(); ++i) {  // sorted names, contiguous offsets
        const auto& e = j[names[i]];
        BOOST_TEST(e["dtype"].get<std::string>() == expect[i].first);
        BOOST_TEST(e["shape"].get<std::vector<int>>() == expect[i].second);
        BOOST_TEST(e["data_offsets"][0].get<std::size_t>() == offset);
        offset += sizes[i];
        BOOST_TEST(e["data_offsets"][1].get<std::size_t>() == offset);
    }
    BOOST_TEST(bytes.size() == 8 + n + offset);
    std::string data = bytes.substr(8 + n);
    BOOST_TEST(data.substr(8, 24) == bytes_of(std::vector<float>{0, 3, 1, 4, 2, 5}));
    BOOST_TEST(data.substr(32, 24) == bytes_of(std::vector<double>{0.1, 1e-300, 8.0}));
    BOOST_TEST(data.substr(0, 8) == bytes_of(std::vector<std::uint16_t>{0x3f80, 0xc000, 0x3f00, 0x43c0}));

    // And ward reads back exactly what it wrote.
    SafetensorsFile f(p);
    BOOST_TEST(f.names() == names);
    BOOST_TEST(f.metadata().at("writer") == "ward");
    BOOST_TEST(f.get<float>("f32_transposed").to_vector() == (std::vector<float>{0, 3, 1, 4, 2, 5}));
    BOOST_TEST((f.get<float>("f32_transposed").shape() == (Shape{3, 2})));
    BOOST_TEST(f.get<double>("f64").to_vector() == (std::vector<double>{0.1, 1e-300, 8.0}));
    auto b = f.get<bf16>("bf16").to_vector();
    BOOST_TEST(b.size() == 4u);
    BOOST_TEST(b[1].bits == 0xc000u);
    BOOST_TEST(b[3].bits == 0x43c0u);
    BOOST_TEST(f.get<std::int32_t>("i32").to_vector() == i32.to_vector());
    BOOST_TEST(f.get<std::int64_t>("i64").to_vector() == i64.to_vector());
    auto s = f.get<float>("scalar");
    BOOST_TEST(s.rank() == 0);
    BOOST_TEST(s.item() == 7.25f);
    auto e = f.get<float>("empty");
    BOOST_TEST((e.shape() == (Shape{2, 0})));
    BOOST_TEST(e.numel() == 0);
    BOOST_TEST((f.info("f64").dtype == StoredDtype::F64));
    BOOST_TEST((f.info("f64").shape == (Shape{3})));
}

BOOST_AUTO_TEST_CASE(read_into_writes_through_the_destination_strides) {
    TempDir dir;
    fs::path p = dir.path / "w.safetensors";
    io::save_safetensors(p, std::map<std::string, Tensor<float>>{{"w", Tensor<float>::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3})}});
    SafetensorsFile f(p);
    auto dense = Tensor<float>::zeros(Shape{2, 3});
    f.read_into("w", dense);
    BOOST_TEST(dense.to_vector() == (std::vector<float>{1, 2, 3, 4, 5, 6}));
    auto storage = Tensor<float>::zeros(Shape{3, 2});
    auto transposed = storage.transpose();  // (2, 3) view of (3, 2) memory
    f.read_into("w", transposed);
    BOOST_TEST(storage.to_vector() == (std::vector<float>{1, 4, 2, 5, 3, 6}));
    BOOST_CHECK_THROW(f.read_into("w", Tensor<float>::zeros(Shape{3, 2})), shape_error);
    BOOST_CHECK_THROW(f.read_into("w", Tensor<double>::zeros(Shape{2, 3})), dtype_error);
}

BOOST_AUTO_TEST_CASE(reads_the_file_written_by_pythons_reference_implementation) {
    SafetensorsFile f(fixtures / "python_written.safetensors");
    BOOST_TEST(f.names() == (std::vector<std::string>{"bf16_matrix", "empty", "f16_vector", "f32_matrix", "f64_vector",
                                                      "i32_matrix", "i64_vector", "scalar", "u8_vector"}));
    BOOST_TEST(f.metadata() == (std::map<std::string, std::string>{{"format", "pt"}, {"source", "safetensors python"}}));

    auto m = f.get<float>("f32_matrix");
    BOOST_TEST((m.shape() == (Shape{2, 3})));
    auto mv = m.to_vector();
    BOOST_TEST((std::vector<float>(mv.begin(), mv.begin() + 4)) == (std::vector<float>{0.5f, -1.25f, 3.0f, 1e-3f}));
    BOOST_TEST(std::signbit(mv[4]));
    BOOST_TEST(mv[4] == 0.0f);
    BOOST_TEST(mv[5] == 65536.0f);
    BOOST_TEST(f.get<double>("f64_vector").to_vector() ==
               (std::vector<double>{3.141592653589793, -1e300, std::numeric_limits<double>::denorm_min()}));
    std::vector<std::uint16_t> bits;
    for (bf16 x : f.get<bf16>("bf16_matrix").to_vector()) bits.push_back(x.bits);
    BOOST_TEST(bits == (std::vector<std::uint16_t>{0x3f80, 0xc020, 0x3e20, 0x7f40}));
    BOOST_TEST(f.get_as<float>("bf16_matrix").to_vector() ==
               (std::vector<float>{1.0f, -2.5f, 0.15625f, std::ldexp(1.5f, 127)}));
    BOOST_TEST(f.get_as<double>("f16_vector").to_vector() ==
               (std::vector<double>{1.0, -0.5, 65504.0, std::ldexp(1.0, -24), std::ldexp(1.0, -14),
                                    std::numeric_limits<double>::infinity()}));
    BOOST_TEST(f.get<std::int32_t>("i32_matrix").to_vector() ==
               (std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max(), 0, -7}));
    BOOST_TEST(f.get<std::int64_t>("i64_vector").to_vector() ==
               (std::vector<std::int64_t>{(std::int64_t(1) << 40) + 7, -3, std::int64_t(1) << 62}));
    BOOST_TEST(f.get<float>("scalar").rank() == 0);
    BOOST_TEST(f.get<float>("scalar").item() == 42.5f);
    BOOST_TEST((f.get<float>("empty").shape() == (Shape{0, 3})));
    BOOST_TEST((f.info("u8_vector").dtype == StoredDtype::U8));
    BOOST_TEST(f.get_as<float>("u8_vector").to_vector() == (std::vector<float>{0, 200, 255}));
    BOOST_TEST(f.raw("i32_matrix").size() == 16u);
    BOOST_CHECK_THROW(f.info("missing"), index_error);
}

BOOST_AUTO_TEST_CASE(python_reads_what_ward_writes) {
    // Writes the file tests/io/fixtures/check_ward_written.py checks (by hand: see that script).
    // With WARD_KEEP_SAFETENSORS set it is kept in the working directory.
    TempDir dir;
    const bool keep = std::getenv("WARD_KEEP_SAFETENSORS") != nullptr;
    fs::path p = keep ? fs::current_path() / "ward_written.safetensors" : dir.path / "ward_written.safetensors";
    SafetensorsWriter w;
    w.add("f32_transposed", Tensor<float>::from_vector({0, 1, 2, 3, 4, 5}, Shape{2, 3}).transpose());
    w.add("f64", Tensor<double>::from_vector({0.1, -2.5, 1e-300}, Shape{3}));
    w.add("bf16", Tensor<bf16>::from_vector({bf16(1.0f), bf16(-2.0f), bf16(0.5f), bf16(384.0f)}, Shape{4}));
    w.add("i32", Tensor<std::int32_t>::from_vector({1, -2, 2147483647, -2147483647 - 1}, Shape{2, 2}));
    w.add("i64", Tensor<std::int64_t>::from_vector({(std::int64_t(1) << 53) + 1, -(std::int64_t(1) << 62)}, Shape{2}));
    w.add("scalar", Tensor<float>::full(Shape{}, 7.25f));
    w.add("empty", Tensor<float>::empty(Shape{2, 0}));
    w.add_metadata("writer", "ward").add_metadata("note", "round trip");
    w.save(p);
    BOOST_TEST(SafetensorsFile(p).size() == 7u);
}

BOOST_AUTO_TEST_CASE(writer_rejects_duplicates_and_reserved_names) {
    SafetensorsWriter w;
    w.add("a", Tensor<float>::zeros(Shape{1}));
    BOOST_CHECK_THROW(w.add("a", Tensor<double>::zeros(Shape{1})), value_error);
    BOOST_CHECK_THROW(w.add("__metadata__", Tensor<float>::zeros(Shape{1})), value_error);
    BOOST_TEST(w.size() == 1u);
}

BOOST_AUTO_TEST_CASE(wrong_requested_dtype_names_tensor_and_both_dtypes) {
    SafetensorsFile f(fixtures / "python_written.safetensors");
    try {
        f.get<float>("bf16_matrix");
        BOOST_FAIL("expected dtype_error");
    } catch (const dtype_error& e) {
        std::string msg = e.what();
        BOOST_TEST(contains(msg, "'bf16_matrix'"), msg);
        BOOST_TEST(contains(msg, "BF16"), msg);
        BOOST_TEST(contains(msg, "F32"), msg);
        BOOST_TEST(contains(msg, "python_written.safetensors"), msg);
    }
    BOOST_CHECK_THROW(f.get<double>("f32_matrix"), dtype_error);
    BOOST_CHECK_THROW(f.get<std::int64_t>("i32_matrix"), dtype_error);
    BOOST_CHECK_THROW(f.get<float>("f16_vector"), dtype_error);  // f16 only through get_as
}

BOOST_AUTO_TEST_CASE(malformed_files_are_parse_errors_naming_file_and_tensor) {
    TempDir dir;
    const std::string f32x2 = R"("dtype":"F32","shape":[2])";
    const std::string eight(8, '\x01');
    auto ok_header = R"({"t":{)" + f32x2 + R"(,"data_offsets":[0,8]}})";

    // A well-formed baseline, so each case below differs from a valid file in one thing.
    write_bytes(dir.path / "good.safetensors", raw_file(ok_header, eight));
    BOOST_TEST(SafetensorsFile(dir.path / "good.safetensors").names() == std::vector<std::string>{"t"});

    BOOST_TEST(contains(parse_failure(dir, ""), "too short"));
    BOOST_TEST(contains(parse_failure(dir, "\x10\0\0\0", "short"), "too short"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(ok_header, eight, ok_header.size() + 100)), "past the end"));
    BOOST_TEST(contains(parse_failure(dir, le64(200'000'000) + "{}"), "exceeds the limit"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t": {"dtype": )", "")), "not valid JSON"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t": 1} trailing)", "")), "not valid JSON"));
    BOOST_TEST(contains(parse_failure(dir, raw_file("[1, 2]", "")), "JSON object"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t": [1]})", "")), "'t': entry must be an object"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", eight)),
                        "'t': unknown dtype \"F33\""));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", eight)),
                        "'t': \"dtype\" must be a string"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", eight)),
                        "'t': missing field \"dtype\""));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", eight)),
                        "'t': missing field \"shape\""));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{)" + f32x2 + "}}", eight)), "'t': missing field \"data_offsets\""));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", eight)),
                        "'t': \"shape\" must be an array"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight)),
                        "non-negative integer"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", eight)),
                        "non-negative integer"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{"dtype":"F32","shape":[1,1,1,1,1,1,1],"data_offsets":[0,4]}})", "abcd")),
                        "max_rank"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{)" + f32x2 + R"(,"data_offsets":[0,8,9]}})", eight)),
                        "'t': \"data_offsets\" must be two"));
    // Offsets out of range of the data section, and a file whose data was cut short.
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{)" + f32x2 + R"(,"data_offsets":[8,16]}})", eight)),
                        "'t': data_offsets [8, 16] lie outside the data section (8 bytes)"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(ok_header, "\x01\x02\x03")), "'t': data_offsets [0, 8] lie outside"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{)" + f32x2 + R"(,"data_offsets":[8,0]}})", eight)),
                        "end before they begin"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight)),
                        "'t': data_offsets [0, 8] hold 8 bytes, but shape (3,) of F32 needs 12"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", eight)),
                        "too large"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]},"b":{)" + f32x2 +
                                                        R"(,"data_offsets":[4,12]}})", eight + "1234")),
                        "'b': data_offsets [4, 12] overlap tensor 'a'"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]},"b":{)" + f32x2 +
                                                        R"(,"data_offsets":[12,20]}})", eight + "1234" + eight)),
                        "'b': data_offsets [12, 20] leave a hole"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(ok_header, eight + "extra")), "trailing bytes"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"t":{)" + f32x2 + R"(,"data_offsets":[0,8]},"t":{)" + f32x2 +
                                                        R"(,"data_offsets":[0,8]}})", eight)),
                        "repeats the key 't'"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"__metadata__":{"k":1},"t":{)" + f32x2 + R"(,"data_offsets":[0,8]}})", eight)),
                        "metadata value of 'k' must be a string"));
    BOOST_TEST(contains(parse_failure(dir, raw_file(R"({"__metadata__":[],"t":{)" + f32x2 + R"(,"data_offsets":[0,8]}})", eight)),
                        "\"__metadata__\" must be an object"));
    BOOST_TEST(contains(parse_failure(dir, raw_file("{\"t\xff\":{" + f32x2 + R"(,"data_offsets":[0,8]}})", eight)),
                        "not valid JSON"));  // names must be UTF-8

    // A file that is not there, or a directory, is an io_error (not a parse_error).
    BOOST_CHECK_THROW(SafetensorsFile(dir.path / "absent.safetensors"), io_error);
    BOOST_CHECK_THROW(SafetensorsFile(dir.path), io_error);
}

BOOST_AUTO_TEST_CASE(shapes_whose_extents_overflow_are_too_large_even_with_an_empty_extent) {
    TempDir dir;
    // 2^40 * 2^40 elements overflow, whatever the 0 makes of the product: (0, 2^40, 2^40) has strides
    // (2^80, 2^40, 1), and ward's tensors could not describe it.
    for (const char* shape : {"[1099511627776,1099511627776,0]", "[0,1099511627776,1099511627776]"})
        BOOST_TEST(contains(parse_failure(dir, raw_file(std::string(R"({"t":{"dtype":"F32","shape":)") + shape +
                                                            R"(,"data_offsets":[0,0]}})", "")),
                            "'t': shape " + std::string(shape) + " is too large"));
    // ... but large empty tensors that fit are read.
    write_bytes(dir.path / "empty.safetensors",
                raw_file(R"({"t":{"dtype":"F32","shape":[0,1099511627776],"data_offsets":[0,0]}})", ""));
    SafetensorsFile f(dir.path / "empty.safetensors");
    auto t = f.get<float>("t");
    BOOST_TEST(t.numel() == 0);
    BOOST_TEST(t.shape() == (Shape{0, index_t(1) << 40}));
}

BOOST_AUTO_TEST_CASE(pipes_and_devices_are_refused_without_reading_them) {
    TempDir dir;
    // A FIFO with no writer would block the open and the read for ever; /dev/zero would never end.
    const fs::path fifo = dir.path / "fifo.safetensors";
    BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (const fs::path& p : {fifo, fs::path("/dev/zero")}) {
        try {
            SafetensorsFile f(p);
            BOOST_ERROR("no error for " << p);
        } catch (const io_error& e) {
            BOOST_TEST(contains(e.what(), p.string()), e.what());
            BOOST_TEST(contains(e.what(), "not a regular file"), e.what());
        }
    }
}

BOOST_AUTO_TEST_CASE(header_with_spaces_and_unpadded_length_is_accepted) {
    TempDir dir;
    fs::path p = dir.path / "spaces.safetensors";
    // Padding spaces inside and after the JSON, a length that is not a multiple of 8, an unknown
    // extra field (ignored, as the reference reader does), and tensors listed out of offset order.
    write_bytes(p, raw_file(R"({ "b" : {"dtype":"I32","shape":[1],"data_offsets":[4,8],"extra":true},)"
                            R"( "a":{"dtype":"F32","shape":[],"data_offsets":[0,4]} }   )",
                            bytes_of(std::vector<float>{1.5f}) + bytes_of(std::vector<std::int32_t>{-9})));
    SafetensorsFile f(p);
    BOOST_TEST(f.get<float>("a").item() == 1.5f);
    BOOST_TEST(f.get<std::int32_t>("b").to_vector() == std::vector<std::int32_t>{-9});
    BOOST_TEST(f.metadata().empty());
}

BOOST_AUTO_TEST_CASE(save_that_fails_part_way_leaves_the_previous_file_intact) {
    TempDir dir;
    fs::path p = dir.path / "model.safetensors";
    io::save_safetensors(p, std::map<std::string, Tensor<float>>{{"w", Tensor<float>::full(Shape{4}, 1.0f)}}, {{"v", "1"}});
    const std::string before = read_bytes(p);

    // The new file would be 4 MB; a file-size limit of 64 KB makes the save fail while writing data,
    // as a full disk would.
    struct rlimit old_limit {};
    ::getrlimit(RLIMIT_FSIZE, &old_limit);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_limit;
    small.rlim_cur = 1 << 16;
    ::setrlimit(RLIMIT_FSIZE, &small);
    bool threw = false;
    try {
        io::save_safetensors(p, std::map<std::string, Tensor<float>>{{"w", Tensor<float>::full(Shape{1 << 20}, 2.0f)}});
    } catch (const io_error& e) {
        threw = true;
        BOOST_TEST(contains(e.what(), p.string()), e.what());
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);
    BOOST_TEST(threw);
    BOOST_TEST(read_bytes(p) == before);
    SafetensorsFile f(p);
    BOOST_TEST(f.get<float>("w").to_vector() == std::vector<float>(4, 1.0f));
    BOOST_TEST(f.metadata().at("v") == "1");
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) files += e.is_regular_file();
    BOOST_TEST(files == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

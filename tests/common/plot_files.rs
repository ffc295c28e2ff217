//! Checks of the plot files the examples write: a PNG decoded and its colours found, an SVG's
//! tags balanced and its texts found.

#![allow(dead_code)]

/// A decoded PNG: width, height and 8-bit RGB pixels. Panics (failing the test) unless `bytes`
/// start with the PNG signature and decode as 8-bit RGB.
pub fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {:?}",
        &bytes[..bytes.len().min(8)]
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a frame size")];
    let info = reader.next_frame(&mut pixels).expect("a PNG frame");
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgb, png::BitDepth::Eight),
        "8-bit RGB"
    );
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

/// How many pixels have exactly the colour `rgb`.
pub fn count_colour(pixels: &[u8], rgb: (u8, u8, u8)) -> usize {
    pixels.chunks_exact(3).filter(|p| (p[0], p[1], p[2]) == rgb).count()
}

/// Checks that `svg` is one `<svg>` element whose tags nest properly (every opened tag closed in
/// order, comments and declarations aside) and that it holds every one of `texts`.
pub fn check_svg(svg: &str, texts: &[&str]) {
    let body = svg.trim();
    assert!(body.starts_with("<svg") && body.ends_with("</svg>"), "not an SVG document");
    let mut open: Vec<&str> = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("an unterminated tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        let name = |t: &'_ str| {
            t.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("").to_string()
        };
        if let Some(closing) = tag.strip_prefix('/') {
            let expected = open.pop().unwrap_or_else(|| panic!("</{closing}> closes nothing"));
            assert_eq!(name(closing), name(expected), "</{closing}> closes <{expected}>");
        } else if !tag.ends_with('/') {
            open.push(tag);
        }
    }
    assert!(open.is_empty(), "unclosed tags: {open:?}");
    for text in texts {
        assert!(svg.contains(text), "{text:?} is not in the SVG");
    }
}

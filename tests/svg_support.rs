//! The SVG reader that chart tests share, tested on its own.

mod support;

// swift-tools-version:6.1
// A libFuzzer target for the upload path's hostile-input code: ImageInspector's JPEG/PNG walk and
// ExifReader (libexif). A package of its own so that the main package's `swift build` never sees
// the sanitizer flags; run it through scripts/fuzz.sh.
import PackageDescription

let package = Package(
    name: "photo-upload-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "photo-upload", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "FuzzImageHeader",
            dependencies: [
                .product(name: "ImageInspection", package: "photo-upload"),
                .product(name: "Exif", package: "photo-upload"),
            ]
        )
    ]
)

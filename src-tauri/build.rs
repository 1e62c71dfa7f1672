fn main() {
    // The UI is embedded when the crate compiles (`generate_context!`): rebuild when it changes.
    println!("cargo:rerun-if-changed=../ui/dist");
    tauri_build::build()
}

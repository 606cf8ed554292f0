import Foundation

extension Module {
    /// Writes the module's parameters to `url` as a safetensors state dict, under their
    /// PyTorch names (``stateDictKeys``), atomically (a temporary file renamed into place).
    ///
    /// The file loads in PyTorch into the same architecture with
    /// `model.load_state_dict(safetensors.torch.load_file(path), strict=True)`.
    ///
    /// - Parameters:
    ///   - url: where to write.
    ///   - metadata: the file's `__metadata__`; by default `["format": "pt"]`, which the
    ///     Hugging Face libraries expect of PyTorch weights.
    ///   - dtype: ``SafeTensors/DType/f32`` (exact, the default), `.f64`, `.f16` or `.bf16`.
    /// - Throws: ``SafeTensorsError`` when `dtype` cannot be written or the file cannot be
    ///   written.
    public func saveStateDict(to url: URL, metadata: [String: String]? = ["format": "pt"],
                              dtype: SafeTensors.DType = .f32) throws {
        var tensors: [String: Tensor] = [:]
        // The parameters themselves (no copies): writing only reads them.
        for (name, parameter) in namedParameters() { tensors[name] = parameter }
        try SafeTensors.write(tensors, metadata: metadata, dtype: dtype, to: url)
    }

    /// Loads the parameters from a safetensors state dict at `url` (written here or by
    /// `safetensors.torch.save_file(model.state_dict(), path)`), converting other float
    /// dtypes to `Float`.
    ///
    /// The whole file is read and checked, and every key and shape is checked against the
    /// module, before any parameter changes: on any error the module is left as it was.
    ///
    /// - Parameters:
    ///   - url: the safetensors file.
    ///   - strict: when `true` (the default), every parameter must be in the file and
    ///   the file must hold nothing else; when `false`, missing and unexpected keys are
    ///   ignored (shapes are still checked).
    /// - Throws: ``SafeTensorsError`` when the file cannot be read or is malformed;
    ///   ``StateDictError`` when its keys or shapes do not match the module.
    public func loadStateDict(from url: URL, strict: Bool = true) throws {
        let tensors = try SafeTensors.read(from: url)
        try loadStateDict(tensors, strict: strict)
    }
}

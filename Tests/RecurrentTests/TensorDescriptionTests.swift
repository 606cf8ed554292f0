import Foundation
import XCTest
@testable import Recurrent

/// `print(tensor)` against PyTorch's `repr` (`Fixtures/tensor_descriptions.json`): the same
/// values, widths, line breaks, summaries and suffixes.
final class TensorDescriptionTests: XCTestCase {
    func testDescriptionsMatchPyTorch() throws {
        let fixture = try Fixture("tensor_descriptions")
        let entries = fixture["entries"] as? [[String: Any]] ?? []
        XCTAssertGreaterThan(entries.count, 10)
        for entry in entries {
            guard let object = entry["tensor"] as? [String: Any], let t = Fixture.tensor(from: object),
                  let expected = entry["repr"] as? String else { XCTFail("malformed entry"); continue }
            t.requiresGrad = entry["requires_grad"] as? Bool ?? false
            XCTAssertEqual(t.description, expected)
        }
    }

    func testOperationResultsNameTheirNode() throws {
        let x = try Tensor([[1, 2]], requiresGrad: true)
        XCTAssertEqual((x * 2).description, "tensor([[2., 4.]], grad_fn=<AffineBackward>)")
        XCTAssertEqual(withoutGradients { x.exp() }.description, "tensor([[2.7183, 7.3891]])")
        // torch: repr(nn.Parameter(torch.tensor([1.5, -2.0])))
        XCTAssertEqual(Parameter(Tensor([1.5, -2])).description, "Parameter containing:\ntensor([ 1.5000, -2.0000], requires_grad=True)")
    }
}

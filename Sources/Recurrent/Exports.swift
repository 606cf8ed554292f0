// Users of Recurrent see the LinearAlgebra layer too (Matrix, SeededGenerator, ComputeThreads),
// since tensors and initialisers take and give its types.
@_exported import LinearAlgebra

"""Tensor basics: the PyTorch tensors-and-autograd tutorial, run on funcgrad.

The only change from the PyTorch version is the import line: ``import funcgrad
as torch``.  Run it with real PyTorch (``import torch``) and the printed output
is the same (tests/test_tensor_parity.py checks this), except for the values
of the random tensors, which come from funcgrad's own generator.

    python examples/tensor_basics.py
"""
import numpy as np

import funcgrad as torch

torch.manual_seed(0)

# ---------------------------------------------------------------------------
# Initializing a tensor
# ---------------------------------------------------------------------------
data = [[1, 2], [3, 4]]
x_data = torch.tensor(data)
print(f"From a list:\n{x_data}\n")

np_array = np.array(data)
x_np = torch.from_numpy(np_array)
print(f"From NumPy:\n{x_np}\n")

x_ones = torch.ones_like(x_data)  # keeps the properties of x_data
print(f"Ones Tensor:\n{x_ones}\n")

x_rand = torch.rand_like(x_data, dtype=torch.float)  # overrides the dtype of x_data
print(f"Random Tensor: shape {tuple(x_rand.shape)}, values in [0, 1): "
      f"{bool(((x_rand >= 0) & (x_rand < 1)).all())}\n")

shape = (2, 3,)
rand_tensor = torch.rand(shape)
ones_tensor = torch.ones(shape)
zeros_tensor = torch.zeros(shape)
print(f"Random Tensor shape: {rand_tensor.shape}")
print(f"Ones Tensor:\n{ones_tensor}")
print(f"Zeros Tensor:\n{zeros_tensor}\n")

# ---------------------------------------------------------------------------
# Attributes of a tensor
# ---------------------------------------------------------------------------
tensor = torch.arange(12.).reshape(3, 4)
print(f"Shape of tensor: {tensor.shape}")
print(f"Datatype of tensor: {tensor.dtype}")
print(f"Device tensor is stored on: {tensor.device}")
print(f"Number of elements: {tensor.numel()}, dims: {tensor.dim()}, size(1): "
      f"{tensor.size(1)}\n")

# ---------------------------------------------------------------------------
# Indexing and slicing
# ---------------------------------------------------------------------------
print(f"First row: {tensor[0]}")
print(f"First column: {tensor[:, 0]}")
print(f"Last column: {tensor[..., -1]}")
print(f"Every other column:\n{tensor[:, ::2]}")
print(f"Rows 0 and 2:\n{tensor[[0, 2]]}")
print(f"Elements above 6: {tensor[tensor > 6]}")
print(f"With a new axis: {tensor[None].shape}")
tensor[:, 1] = 0
tensor[tensor > 9] = -1
print(f"After assignment:\n{tensor}\n")

# ---------------------------------------------------------------------------
# Joining, reshaping and broadcasting
# ---------------------------------------------------------------------------
t1 = torch.cat([tensor, tensor], dim=1)
print(f"cat along dim 1: {t1.shape}")
t2 = torch.stack([tensor, tensor])
print(f"stack: {t2.shape}")
print(f"view(2, 6):\n{tensor.view(2, 6)}")
print(f"permute: {tensor.permute(1, 0).shape}, unsqueeze: {tensor.unsqueeze(0).shape}")
row = torch.tensor([1., 10., 100., 1000.])
print(f"broadcast_to:\n{torch.broadcast_to(row, (3, 4))}")
print(f"row broadcast in an addition:\n{tensor + row}")
try:
    torch.broadcast_to(row, (3, 5))
except RuntimeError as e:
    print(f"broadcast_to error: {e}\n")

# ---------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------
m = torch.tensor([[1., 2.], [3., 4.]])
y1 = m @ m.T
y2 = m.matmul(m.T)
z1 = m * m
z2 = m.mul(m)
print(f"matrix product:\n{y1}\nsame with matmul: {torch.equal(y1, y2)}")
print(f"elementwise product:\n{z1}\nsame with mul: {torch.equal(z1, z2)}")
agg = m.sum()
agg_item = agg.item()
print(f"sum: {agg_item} ({type(agg_item).__name__}), mean {m.mean():.2f}, "
      f"max {m.max()}, argmax {m.argmax()}")
values, indices = m.max(dim=1)
print(f"max over dim 1: values {values}, indices {indices}")
print(f"softmax over rows:\n{torch.softmax(m, dim=1)}")
print(f"int tensor * 2.5: {torch.tensor([1, 2]) * 2.5}")
print(f"int tensor / 2: {torch.tensor([1, 2]) / 2}")
m.add_(5)
print(f"in place add_(5):\n{m}\n")

# ---------------------------------------------------------------------------
# Bridge with NumPy
# ---------------------------------------------------------------------------
t = torch.ones(5)
n = t.numpy()
print(f"t: {t}")
print(f"n: {n}\n")

# ---------------------------------------------------------------------------
# Automatic differentiation
# ---------------------------------------------------------------------------
x = torch.ones(5)  # input tensor
y = torch.zeros(3)  # expected output
w = torch.tensor([[0.1, -0.2, 0.3], [0.0, 0.5, -0.1], [0.2, 0.2, 0.2],
                  [-0.3, 0.1, 0.0], [0.4, -0.4, 0.1]], requires_grad=True)
b = torch.tensor([0.1, 0.0, -0.1], requires_grad=True)
z = torch.matmul(x, w) + b
p = torch.sigmoid(z)
loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
print(f"loss: {loss}")
print(f"Gradient function for z: {z.grad_fn is not None}, is_leaf: {z.is_leaf}")
loss.backward()
print(f"w.grad:\n{w.grad}")
print(f"b.grad: {b.grad}")

with torch.no_grad():
    z = torch.matmul(x, w) + b
print(f"requires_grad under no_grad: {z.requires_grad}")
z_det = (torch.matmul(x, w) + b).detach()
print(f"requires_grad after detach: {z_det.requires_grad}")

# A scalar function of x: d/dx sum(x**3) = 3 x**2, and again with create_graph.
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
out = (x ** 3).sum()
(g,) = torch.autograd.grad(out, x, create_graph=True)
print(f"first derivative: {g}")
g.sum().backward()
print(f"second derivative in x.grad: {x.grad}")

# One gradient-descent step, the way optimizers do it.
with torch.no_grad():
    w -= 0.1 * w.grad
    w.grad.zero_()
print(f"w after one step:\n{w}")
print(f"w.grad after zero_(): {w.grad.sum().item()}")

"""vaelab: deep latent-variable models and amortized variational inference on PyTorch.

A model is p(x, z | θ) = p(x | z; θ) p(z): a simple prior and a network that maps parents to
the parameters of a distribution family, η = f_DNN(Pa(x)), p(x | Pa(x)) = Family(η).
"""

__version__ = "0.1.0"

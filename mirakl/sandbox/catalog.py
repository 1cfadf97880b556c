"""Static Spanish reference data the generator draws from: people, places, products, carriers.

Everything here is fictional but shaped like a real computer-parts shop selling on a Spanish
Mirakl marketplace (PcComponentes/MediaMarkt style): peninsular and Balearic addresses (IVA
applies there, unlike the Canary Islands), prices in EUR with IVA21 included.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "CARRIERS",
    "CITIES",
    "FIRST_NAMES",
    "PAYMENT_TYPES",
    "PRODUCTS",
    "STREETS",
    "SURNAMES",
    "Carrier",
    "City",
    "Product",
    "ShopProfile",
    "default_shop",
]


@dataclass(frozen=True, slots=True)
class ShopProfile:
    """The seller the sandbox plays the marketplace for."""

    shop_id: str
    name: str
    user_email: str
    operator_name: str = "Operator"


def default_shop(shop_id: int | str | None = None) -> ShopProfile:
    return ShopProfile(
        shop_id=str(shop_id if shop_id is not None else 2087),
        name="Silicio Sur",
        user_email="soporte@siliciosur.es",
    )


@dataclass(frozen=True, slots=True)
class City:
    name: str
    province: str
    zip_prefix: str
    phone_prefix: str


@dataclass(frozen=True, slots=True)
class Product:
    product_sku: str
    offer_sku: str
    title: str
    category_code: str
    category_label: str
    price: Decimal


@dataclass(frozen=True, slots=True)
class Carrier:
    code: str
    name: str
    tracking_url: str  # format string with {tracking}
    tracking_digits: int
    tracking_prefix: str = ""


FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Lucía", "F"),
    ("María", "F"),
    ("Carmen", "F"),
    ("Ana", "F"),
    ("Laura", "F"),
    ("Marta", "F"),
    ("Elena", "F"),
    ("Cristina", "F"),
    ("Paula", "F"),
    ("Sara", "F"),
    ("Nuria", "F"),
    ("Irene", "F"),
    ("Raquel", "F"),
    ("Beatriz", "F"),
    ("Rocío", "F"),
    ("Alba", "F"),
    ("Noelia", "F"),
    ("Silvia", "F"),
    ("Pilar", "F"),
    ("Inés", "F"),
    ("Antonio", "M"),
    ("José", "M"),
    ("Manuel", "M"),
    ("Francisco", "M"),
    ("David", "M"),
    ("Javier", "M"),
    ("Daniel", "M"),
    ("Carlos", "M"),
    ("Alejandro", "M"),
    ("Miguel", "M"),
    ("Pablo", "M"),
    ("Sergio", "M"),
    ("Jorge", "M"),
    ("Álvaro", "M"),
    ("Rubén", "M"),
    ("Adrián", "M"),
    ("Iván", "M"),
    ("Raúl", "M"),
    ("Óscar", "M"),
    ("Íñigo", "M"),
)

SURNAMES: tuple[str, ...] = (
    "García",
    "Rodríguez",
    "González",
    "Fernández",
    "López",
    "Martínez",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Martín",
    "Jiménez",
    "Ruiz",
    "Hernández",
    "Díaz",
    "Moreno",
    "Muñoz",
    "Álvarez",
    "Romero",
    "Alonso",
    "Gutiérrez",
    "Navarro",
    "Torres",
    "Domínguez",
    "Vázquez",
    "Ramos",
    "Gil",
    "Ramírez",
    "Serrano",
    "Blanco",
    "Molina",
    "Morales",
    "Suárez",
    "Ortega",
    "Delgado",
    "Castro",
    "Ortiz",
    "Rubio",
    "Marín",
    "Sanz",
    "Iglesias",
    "Núñez",
    "Medina",
    "Garrido",
    "Cortés",
    "Castillo",
    "Santos",
    "Lozano",
    "Guerrero",
    "Cano",
    "Prieto",
)

CITIES: tuple[City, ...] = (
    City("Madrid", "Madrid", "28", "91"),
    City("Alcalá de Henares", "Madrid", "28", "91"),
    City("Móstoles", "Madrid", "28", "91"),
    City("Barcelona", "Barcelona", "08", "93"),
    City("Sabadell", "Barcelona", "08", "93"),
    City("L'Hospitalet de Llobregat", "Barcelona", "08", "93"),
    City("Valencia", "Valencia", "46", "96"),
    City("Sevilla", "Sevilla", "41", "95"),
    City("Zaragoza", "Zaragoza", "50", "976"),
    City("Málaga", "Málaga", "29", "95"),
    City("Murcia", "Murcia", "30", "968"),
    City("Cartagena", "Murcia", "30", "968"),
    City("Palma", "Illes Balears", "07", "971"),
    City("Bilbao", "Bizkaia", "48", "94"),
    City("Alicante", "Alicante", "03", "96"),
    City("Elche", "Alicante", "03", "96"),
    City("Córdoba", "Córdoba", "14", "957"),
    City("Valladolid", "Valladolid", "47", "983"),
    City("Vigo", "Pontevedra", "36", "986"),
    City("Gijón", "Asturias", "33", "985"),
    City("Oviedo", "Asturias", "33", "985"),
    City("A Coruña", "A Coruña", "15", "981"),
    City("Granada", "Granada", "18", "958"),
    City("Vitoria-Gasteiz", "Álava", "01", "945"),
    City("Santander", "Cantabria", "39", "942"),
    City("Pamplona", "Navarra", "31", "948"),
    City("Salamanca", "Salamanca", "37", "923"),
    City("Cádiz", "Cádiz", "11", "956"),
    City("Jerez de la Frontera", "Cádiz", "11", "956"),
    City("Burgos", "Burgos", "09", "947"),
    City("Logroño", "La Rioja", "26", "941"),
    City("Toledo", "Toledo", "45", "925"),
    City("Badajoz", "Badajoz", "06", "924"),
    City("Almería", "Almería", "04", "950"),
    City("Huelva", "Huelva", "21", "959"),
    City("León", "León", "24", "987"),
    City("Tarragona", "Tarragona", "43", "977"),
    City("Girona", "Girona", "17", "972"),
    City("Lleida", "Lleida", "25", "973"),
    City("Castellón de la Plana", "Castellón", "12", "964"),
    City("Albacete", "Albacete", "02", "967"),
    City("Donostia-San Sebastián", "Gipuzkoa", "20", "943"),
    City("Jaén", "Jaén", "23", "953"),
    City("Cáceres", "Cáceres", "10", "927"),
    City("Ourense", "Ourense", "32", "988"),
    City("Lugo", "Lugo", "27", "982"),
)

STREETS: tuple[str, ...] = (
    "Calle Mayor",
    "Avenida de la Constitución",
    "Calle Real",
    "Calle de Alcalá",
    "Gran Vía",
    "Avenida Diagonal",
    "Calle San Fernando",
    "Calle del Carmen",
    "Avenida de Andalucía",
    "Calle Colón",
    "Calle de la Paz",
    "Paseo de la Castellana",
    "Calle Doctor Fleming",
    "Avenida de América",
    "Calle Nueva",
    "Plaza de España",
    "Calle de Cervantes",
    "Avenida del Puerto",
    "Calle Sol",
    "Calle Santa Clara",
    "Ronda de Valencia",
    "Calle Alfonso XIII",
    "Avenida de Galicia",
    "Calle Reyes Católicos",
    "Calle Jacinto Benavente",
    "Travesía del Olivo",
    "Calle Federico García Lorca",
    "Avenida de la Libertad",
)

STREET_EXTRAS: tuple[str, ...] = (
    "",
    "",
    "1º A",
    "2º B",
    "3º izquierda",
    "4º C",
    "Bajo",
    "Escalera 2, 5º D",
    "Portal 3, 1º",
    "Ático",
)

DELIVERY_NOTES: tuple[str | None, ...] = (
    None,
    None,
    None,
    "Dejar en conserjería",
    "Llamar antes de entregar",
    "Horario de entrega de 9:00 a 14:00",
    "Si no estoy, dejar al vecino del 2º",
)

PAYMENT_TYPES: tuple[str, ...] = ("Tarjeta de crédito", "PayPal", "Bizum", "Transferencia")


def _p(sku: str, offer: str, title: str, cat: str, label: str, price: str) -> Product:
    return Product(sku, offer, title, cat, label, Decimal(price))


PRODUCTS: tuple[Product, ...] = (
    _p("10331852", "SIL-KF432C16BBK2-16", "Kingston FURY Beast DDR4 3200 MHz 16GB 2x8GB CL16",
       "memoria-ram", "Memoria RAM", "42.90"),
    _p("10349107", "SIL-CMK32GX5M2B5600", "Corsair Vengeance DDR5 5600 MHz 32GB 2x16GB CL36",
       "memoria-ram", "Memoria RAM", "104.90"),
    _p("10289341", "SIL-MZ-V8P1T0BW", "Samsung 980 PRO SSD 1TB PCIe 4.0 NVMe M.2",
       "discos-ssd", "Discos Duros SSD", "89.99"),
    _p("10407724", "SIL-CT2000P3PSSD8", "Crucial P3 Plus 2TB SSD M.2 NVMe PCIe 4.0",
       "discos-ssd", "Discos Duros SSD", "109.90"),
    _p("10412290", "SIL-WDS100T3B0E", "WD Blue SN580 1TB SSD M.2 NVMe PCIe 4.0",
       "discos-ssd", "Discos Duros SSD", "59.99"),
    _p("10145533", "SIL-SA400S37-480G", "Kingston A400 SSD 480GB SATA3 2.5\"",
       "discos-ssd", "Discos Duros SSD", "32.99"),
    _p("10165822", "SIL-ST2000DM008", "Seagate BarraCuda 2TB 3.5\" 7200 rpm SATA 3",
       "discos-duros", "Discos Duros", "64.90"),
    _p("10301174", "SIL-100-100000065BOX", "AMD Ryzen 5 5600X 3.7 GHz Box",
       "procesadores", "Procesadores", "139.00"),
    _p("10398841", "SIL-100-100000910WOF", "AMD Ryzen 7 7800X3D 4.2/5 GHz",
       "procesadores", "Procesadores", "379.90"),
    _p("10377012", "SIL-BX8071513400F", "Intel Core i5-13400F 2.5 GHz Box",
       "procesadores", "Procesadores", "189.90"),
    _p("10431120", "SIL-BX8071514700K", "Intel Core i7-14700K 3.4 GHz",
       "procesadores", "Procesadores", "419.00"),
    _p("10402299", "SIL-V516-004R", "MSI GeForce RTX 4060 VENTUS 2X BLACK OC 8GB GDDR6",
       "tarjetas-graficas", "Tarjetas Gráficas", "309.90"),
    _p("10428760", "SIL-GV-N407SWF3OC-12GD", "Gigabyte GeForce RTX 4070 SUPER WINDFORCE OC 12GB",
       "tarjetas-graficas", "Tarjetas Gráficas", "619.00"),
    _p("10409933", "SIL-11330-02-20G", "Sapphire Pulse AMD Radeon RX 7800 XT 16GB GDDR6",
       "tarjetas-graficas", "Tarjetas Gráficas", "529.90"),
    _p("10387765", "SIL-90MB19X0-M0EAY0", "ASUS PRIME B550M-A WIFI II",
       "placas-base", "Placas Base", "109.90"),
    _p("10395512", "SIL-7D75-001R", "MSI MAG B650 TOMAHAWK WIFI",
       "placas-base", "Placas Base", "199.90"),
    _p("10380441", "SIL-B760M-DS3H-DDR4", "Gigabyte B760M DS3H DDR4",
       "placas-base", "Placas Base", "114.99"),
    _p("10385120", "SIL-CP-9020262-EU", "Corsair RM750e 750W 80 Plus Gold Modular",
       "fuentes-alimentacion", "Fuentes de Alimentación", "99.90"),
    _p("10399875", "SIL-BP002EU", "Be Quiet! Pure Power 12 M 650W 80 Plus Gold",
       "fuentes-alimentacion", "Fuentes de Alimentación", "94.90"),
    _p("10298804", "SIL-CC-9011200-WW", "Corsair 4000D Airflow Torre ATX Cristal Templado Negra",
       "cajas-pc", "Cajas PC", "94.90"),
    _p("10244576", "SIL-NXHUMMERTGM", "Nox Hummer TGM Torre ATX Cristal Templado RGB",
       "cajas-pc", "Cajas PC", "49.90"),
    _p("10152301", "SIL-NH-D15", "Noctua NH-D15 Disipador CPU",
       "refrigeracion", "Refrigeración", "109.90"),
    _p("10226689", "SIL-RR-212S-20PK-R1", "Cooler Master Hyper 212 Black Edition",
       "refrigeracion", "Refrigeración", "39.90"),
    _p("10426618", "SIL-ACFRE00136A", "Arctic Liquid Freezer III 360 Kit Refrigeración Líquida",
       "refrigeracion", "Refrigeración", "99.99"),
    _p("10174420", "SIL-910-005471", "Logitech G502 HERO Ratón Gaming 25600 DPI",
       "ratones", "Ratones", "44.99"),
    _p("10405518", "SIL-RZ01-04640100", "Razer DeathAdder V3 Ratón Gaming 30000 DPI",
       "ratones", "Ratones", "69.99"),
    _p("10421987", "SIL-920-011567", "Logitech MX Keys S Teclado Inalámbrico Iluminado",
       "teclados", "Teclados", "119.00"),
    _p("10261173", "SIL-CH-9109410-ES", "Corsair K70 RGB PRO Teclado Mecánico Cherry MX Red",
       "teclados", "Teclados", "159.90"),
    _p("10266354", "SIL-MK422RES", "Mars Gaming MK422 Teclado Mecánico RGB Switch Rojo",
       "teclados", "Teclados", "34.99"),
    _p("10133867", "SIL-4P5M0AA", "HyperX Cloud II Auriculares Gaming 7.1 Rojo",
       "auriculares", "Auriculares", "79.90"),
    _p("10098712", "SIL-960-001055", "Logitech C920 HD Pro Webcam Full HD",
       "webcams", "Webcams", "64.99"),
    _p("10357744", "SIL-27GP850P-B", "LG UltraGear 27GP850P-B 27\" LED NanoIPS QHD 180Hz",
       "monitores", "Monitores", "299.00"),
    _p("10414436", "SIL-LS27CG510EUXEN", "Samsung Odyssey G5 27\" QHD 165Hz Curvo",
       "monitores", "Monitores", "219.90"),
    _p("10297700", "SIL-90LM0543-B02370", "ASUS VA24DQ 23.8\" LED IPS FullHD 75Hz",
       "monitores", "Monitores", "109.00"),
    _p("10302233", "SIL-ARCHERTX20E", "TP-Link Archer TX20E Tarjeta de Red WiFi 6 PCIe",
       "redes", "Redes", "39.90"),
    _p("10360098", "SIL-DECOX50-3P", "TP-Link Deco X50 Pack de 3 Sistema WiFi 6 Mesh",
       "redes", "Redes", "199.90"),
    _p("10177510", "SIL-SDCZ73-128G", "SanDisk Ultra Flair 128GB USB 3.0",
       "memorias-usb", "Memorias USB", "12.99"),
    _p("10311659", "SIL-UG-60515", "Ugreen Hub USB-C 6 en 1 HDMI 4K",
       "accesorios", "Accesorios", "29.99"),
    _p("10213390", "SIL-BX1600MI", "APC Back-UPS BX1600MI SAI 1600VA",
       "sai", "SAI", "179.90"),
    _p("10119984", "SIL-TG-K-001-RS", "Thermal Grizzly Kryonaut Pasta Térmica 1g",
       "accesorios", "Accesorios", "9.99"),
)  # fmt: skip

CARRIERS: tuple[Carrier, ...] = (
    Carrier("SEUR", "SEUR", "https://www.seur.com/livetracking/?segOnlineIdentificador={tracking}",
            14),
    Carrier("MRW", "MRW",
            "https://www.mrw.es/seguimiento_envios/MRW_resultados_consultas.asp?envio={tracking}",
            12),
    Carrier("CEX", "Correos Express", "https://s.correosexpress.com/search?s={tracking}", 16),
    Carrier("GLS", "GLS", "https://gls-group.com/ES/es/seguimiento-envio?match={tracking}", 11,
            "ES"),
)  # fmt: skip
